package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNeedRIESkipsOnlyUnderShort checks both tiers, whichever one runs it.
func TestNeedRIESkipsOnlyUnderShort(t *testing.T) {
	t.Parallel()
	missing := func(string) string { return filepath.Join(t.TempDir(), "aws-lambda-rie") }
	if rie, skip, err := needRIE(true, missing); rie != "" || err != nil || !strings.Contains(skip, "-short") || !strings.Contains(skip, "make test") {
		t.Errorf("under -short: %q, %q, %v; want a skip naming -short and `make test`", rie, skip, err)
	}
	rie, skip, err := needRIE(false, missing)
	if skip != "" || err == nil || !strings.Contains(err.Error(), "make tools") || !strings.Contains(err.Error(), "make test") {
		t.Errorf("without -short, nothing installed: %q, %q, %v; want an error with an install hint, never a skip", rie, skip, err)
	}

	fake := filepath.Join(t.TempDir(), "rie")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o700); err != nil { //nolint:gosec // G306: a fake emulator must be executable
		t.Fatal(err)
	}
	if rie, skip, err := needRIE(false, func(string) string { return fake }); rie != fake || skip != "" || err != nil {
		t.Errorf("without -short, PAYJS_RIE set: %q, %q, %v; want its path", rie, skip, err)
	}
}
