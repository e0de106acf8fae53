package mototest

// The tier decision with -short given, so that a test checks both tiers
// whichever one runs it.
var (
	RequireTier = require
	StartTier   = start
)
