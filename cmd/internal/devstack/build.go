package devstack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ModulePath is the module whose root [Root] looks for.
const ModulePath = "github.com/payjs-close/payjs-close"

// RIEEnv names the environment variable holding the path of
// aws-lambda-rie; the Makefile exports it as .bin/aws-lambda-rie.
const RIEEnv = "PAYJS_RIE"

const installRIE = "run `make tools` to install the pinned aws-lambda-rie into .bin/ (or set " + RIEEnv + " to its path); " +
	"`make test` does so before it runs the tests"

// Root returns the root directory of module [ModulePath], found from the
// working directory upwards.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		if isModuleRoot(filepath.Join(d, "go.mod")) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod of module %s in %s or above: run from inside the repository", ModulePath, dir)
		}
		d = parent
	}
}

func isModuleRoot(gomod string) bool {
	b, err := os.ReadFile(gomod) //nolint:gosec // G304: go.mod files of the working directory's parents
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == ModulePath
		}
	}
	return false
}

// Build compiles the main package pkg (such as "./cmd/closeorder") of the
// module at root into out as the Makefile builds the Lambda bootstrap
// (CGO_ENABLED=0, -tags lambda.norpc, -trimpath, -ldflags "-s -w"), but
// for this machine's GOOS and GOARCH, so that it runs under the emulator
// here. Go's build cache makes a rebuild of unchanged code quick.
func Build(ctx context.Context, root, pkg, out string) error {
	gotool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("build %s: the go command is not in PATH: %w", pkg, err)
	}
	cmd := exec.CommandContext(ctx, gotool, "build", //nolint:gosec // G204: the go command with our own package and output path
		"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w\n%s", pkg, err, bytes.TrimSpace(b))
	}
	return nil
}

// FindRIE returns the path of aws-lambda-rie: the file named by
// $PAYJS_RIE (read through getenv) when set, else root/.bin/aws-lambda-rie
// when it exists, else aws-lambda-rie from PATH. The error says how to
// install it.
func FindRIE(root string, getenv func(string) string) (string, error) {
	if p := getenv(RIEEnv); p != "" {
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("aws-lambda-rie: %s=%s: %w; %s", RIEEnv, p, err, installRIE)
		}
		return filepath.Abs(p)
	}
	local := filepath.Join(root, ".bin", "aws-lambda-rie")
	if isExecutable(local) == nil {
		return filepath.Abs(local)
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return filepath.Abs(p)
	}
	return "", fmt.Errorf("aws-lambda-rie not found (%s is unset, %s does not exist, and it is not in PATH): %s", RIEEnv, local, installRIE)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("no such file")
	case err != nil:
		return err
	case fi.IsDir():
		return errors.New("is a directory")
	case fi.Mode()&0o111 == 0:
		return errors.New("is not executable")
	}
	return nil
}
