package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/payjs-close/payjs-close/handler/closing"
	"github.com/payjs-close/payjs-close/handler/secret"
	"github.com/payjs-close/payjs-close/payjs"
)

// errNoKey is the refusal to run without a merchant key.
var errNoKey = errors.New("no merchant key: set PAYJS_MCHID and PAYJS_KEY (the merchant number and " +
	"communication key from the PAYJS dashboard), or PAYJS_SECRET_ID (the Secrets Manager secret the function reads)")

// keys is the merchant key the smoke closes with, as the function would
// find it.
type keys struct {
	// src serves the key to the handler: the function's own Secrets
	// Manager store, or the environment's key.
	src closing.Keys
	// mchid is the merchant the closes are for.
	mchid string
	// from says where the key came from, for the report: never the key.
	from string
}

// loadKeys reads the merchant key from the environment: PAYJS_MCHID and
// PAYJS_KEY, or the secret PAYJS_SECRET_ID (PAYJS_MCHID then picks one of
// several merchants). Nothing is sent to PAYJS here.
func loadKeys(ctx context.Context, getenv func(string) string) (keys, error) {
	id, mchid, key := getenv("PAYJS_SECRET_ID"), getenv("PAYJS_MCHID"), getenv("PAYJS_KEY")
	switch {
	case id != "" && key != "":
		return keys{}, errors.New("both PAYJS_SECRET_ID and PAYJS_KEY are set: unset one (with PAYJS_SECRET_ID, PAYJS_MCHID alone may pick a merchant of the secret)")
	case id != "":
		return secretKeys(ctx, id, mchid)
	case mchid == "" && key == "":
		return keys{}, errNoKey
	case key == "":
		return keys{}, errors.New("PAYJS_KEY is not set: set it to the merchant's communication key, or set PAYJS_SECRET_ID instead")
	case mchid == "":
		return keys{}, errors.New("PAYJS_MCHID is not set: set it to the merchant number the key belongs to")
	case !payjs.ValidOrderID(mchid):
		return keys{}, errors.New("PAYJS_MCHID must be 1 to 32 characters of [0-9A-Za-z]")
	}
	if err := payjs.ValidateKey(key); err != nil {
		var pe *payjs.Error
		if errors.As(err, &pe) {
			return keys{}, errors.New("PAYJS_KEY is unusable: " + pe.Msg)
		}
		return keys{}, errors.New("PAYJS_KEY is unusable")
	}
	// Checked as the function checks its secret's.
	set, err := secret.One(mchid, key)
	if err != nil {
		return keys{}, fmt.Errorf("PAYJS_MCHID/PAYJS_KEY: %w", err) // names the field, never the key
	}
	return keys{src: set, mchid: mchid, from: "PAYJS_MCHID/PAYJS_KEY"}, nil
}

// secretKeys loads the secret through the function's own store, so that a
// secret the function could not read fails here, before any close.
func secretKeys(ctx context.Context, id, mchid string) (keys, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return keys{}, fmt.Errorf("AWS configuration: %w", err)
	}
	store := secret.NewStore(secretsmanager.NewFromConfig(cfg), id)
	set, err := store.Get(ctx)
	if err != nil {
		return keys{}, fmt.Errorf("PAYJS_SECRET_ID: %w", err)
	}
	m, err := set.Lookup(mchid)
	switch {
	case errors.Is(err, secret.ErrMchIDRequired):
		return keys{}, fmt.Errorf("the secret holds several merchants (%s): set PAYJS_MCHID to pick one", strings.Join(set.MchIDs(), ", "))
	case err != nil:
		return keys{}, fmt.Errorf("PAYJS_MCHID: %w", err)
	}
	return keys{src: store, mchid: m.MchID, from: "secret " + id}, nil
}
