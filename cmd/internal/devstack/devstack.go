// Package devstack runs the payjs-close function as Lambda would, on this
// machine and on loopback only: the real bootstrap under the AWS Lambda
// Runtime Interface Emulator (aws-lambda-rie), with moto as Secrets
// Manager (holding the demo secret) and as EventBridge Scheduler (holding
// the schedule group [ScheduleGroup]), and the PAYJS simulator (holding
// the demo orders) as PAYJS. `make invoke`, the end-to-end tests and the
// benchmarks share it.
//
//	st, err := devstack.Start(ctx, devstack.Options{Output: os.Stderr})
//	if err != nil { ... }
//	defer st.Close()
//	out, err := st.Invoke(ctx, []byte(`{"payjs_order_id":"2026112500000000000000000001"}`))
//	var fe *devstack.FunctionError
//	if errors.As(err, &fe) { ... } // a Lambda error: fe.Type is the error code
//
// What a benchmark measures: [Emulator.Restart] for a fresh cold start
// (same binary, same moto and simulator), [Emulator.FirstResponse] for the
// time from the emulator's start to its first answer, [Emulator.PeakRSS]
// for the bootstrap's memory, st.Sim.Connections() for the TCP
// connections the function opened to PAYJS and
// st.Moto.Calls("GetSecretValue") for its Secrets Manager calls.
// [StartEmulator] runs any other bootstrap (a baseline function) the same
// way, without moto or the simulator.
//
// A test starts the stack with [StartTest], which skips it under go test
// -short and fails it with an install hint when the emulator or moto is
// missing ([Require]); a test that runs only the emulator calls
// [RequireRIE].
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"github.com/payjs-close/payjs-close/cmd/testkit/mototest"
	"github.com/payjs-close/payjs-close/payjs/payjstest"
)

// The demo secret that Start creates in moto: the name the function is
// given as PAYJS_SECRET_ID, and its SecretString, which holds the
// simulator's demo merchant and key (public, local, never a real key).
const (
	SecretName  = "payjs-close/local" //nolint:gosec // G101: a secret's name, and the value below is the public demo key
	SecretValue = `{"mchid":"` + payjstest.DemoMchID + `","key":"` + payjstest.DemoKey + `"}`
)

// Options configure [Start]. The zero value builds ./cmd/closeorder and
// finds everything itself.
type Options struct {
	// Root is the module's root directory: where ./cmd/closeorder is built
	// and .bin/aws-lambda-rie is looked for. Empty: found from the
	// working directory upwards ([Root]).
	Root string
	// Bootstrap is a bootstrap binary to run instead of building
	// ./cmd/closeorder (a baseline function, or one built earlier).
	Bootstrap string
	// RIE is the path of aws-lambda-rie. Empty: [FindRIE].
	RIE string
	// Env is added to the function's environment, replacing the defaults
	// of [Stack.Env] with the same names (e.g. PAYJS_TIMEOUT or
	// PAYJS_SECRET_TTL).
	Env map[string]string
	// Output receives what the emulator and the function print (the
	// function's JSON logs and metrics, START/END/REPORT lines). Nil
	// discards it.
	Output io.Writer
	// LogLevel is the emulator's own log level ("debug", "info", "warn",
	// "error"). Empty: "error" (its warnings are about the kills of Close
	// and Restart).
	LogLevel string
	// Getenv reads PAYJS_RIE. Nil: os.Getenv.
	Getenv func(string) string
	// OutcomeBus, when set, is an event bus Start creates in moto, with a
	// rule sending every outcome event to [Stack.Outcomes], and gives the
	// function as PAYJS_OUTCOME_BUS. Empty: the function publishes none.
	OutcomeBus string
}

// Stack is the function under the emulator with its two dependencies.
// Close stops all three.
type Stack struct {
	// Sim is the PAYJS simulator with the demo data; the function's
	// PAYJS_BASE_URL is Sim.URL.
	Sim *payjstest.Server
	// Moto is Secrets Manager, holding [SecretName], and EventBridge
	// Scheduler, holding [ScheduleGroup]; the function's
	// AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL_SCHEDULER are
	// Moto.URL.
	Moto *mototest.Server
	// Emulator runs the bootstrap under aws-lambda-rie.
	Emulator *Emulator
	// SecretARN is the ARN moto gave [SecretName].
	SecretARN string
	// Outcomes receives the outcome events the function publishes, when
	// Options.OutcomeBus is set; nil otherwise.
	Outcomes *mototest.Mailbox

	env     map[string]string
	tempDir string // holds the bootstrap Start built; removed by Close
	once    sync.Once
}

// Start builds the bootstrap (unless o.Bootstrap names one), starts moto
// with the demo secret and the simulator with the demo orders, and runs
// the bootstrap under aws-lambda-rie, all on 127.0.0.1. The emulator
// starts the bootstrap on the first invoke, as Lambda starts a sandbox on
// demand. On error, whatever was started is stopped.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	root := o.Root
	if root == "" {
		root, err = Root()
	} else {
		root, err = filepath.Abs(root)
	}
	if err != nil {
		return nil, err
	}
	rie := o.RIE
	if rie == "" {
		getenv := o.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		if rie, err = FindRIE(root, getenv); err != nil {
			return nil, err
		}
	}

	s := &Stack{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	// Building and starting moto take a second or two each: overlap them.
	bootstrap := o.Bootstrap
	buildErr := make(chan error, 1)
	if bootstrap == "" {
		if s.tempDir, err = os.MkdirTemp("", "payjs-close-devstack-"); err != nil {
			return nil, err
		}
		bootstrap = filepath.Join(s.tempDir, "bootstrap")
		go func() { buildErr <- Build(ctx, root, "./cmd/closeorder", bootstrap) }()
	} else {
		if bootstrap, err = filepath.Abs(bootstrap); err != nil {
			return nil, err
		}
		buildErr <- nil
	}
	moto, motoErr := mototest.Launch(ctx)
	if motoErr != nil {
		motoErr = fmt.Errorf("start moto (Secrets Manager): %w", motoErr)
	} else {
		s.Moto = moto
	}
	if err = errors.Join(<-buildErr, motoErr); err != nil {
		return nil, err
	}
	if s.SecretARN, err = s.Moto.CreateSecretContext(ctx, SecretName, SecretValue); err != nil {
		return nil, err
	}
	if err = s.createScheduleGroup(ctx); err != nil {
		return nil, err
	}
	outcomeEnv, err := s.startOutcomes(ctx, o.OutcomeBus)
	if err != nil {
		return nil, err
	}
	s.Sim = payjstest.NewServer(payjstest.WithDemoData())

	s.env = s.defaultEnv(filepath.Dir(bootstrap))
	maps.Copy(s.env, outcomeEnv)
	maps.Copy(s.env, o.Env)
	if s.Emulator, err = StartEmulator(ctx, EmulatorOptions{
		RIE:       rie,
		Bootstrap: bootstrap,
		Env:       s.env,
		Output:    o.Output,
		LogLevel:  o.LogLevel,
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// defaultEnv is the function's environment before Options.Env: what
// Lambda sets for a function (region, name, memory, timeout, task root,
// PATH, TZ), the SDK's way to moto with static credentials, and the
// function's configuration pointing at the simulator. Nothing is taken
// from this process's environment, so a developer's AWS profile cannot
// leak in. Scheduled closes go to moto ([ScheduleGroup]).
func (st *Stack) defaultEnv(taskRoot string) map[string]string {
	env := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"AWS_DEFAULT_REGION":              mototest.Region,
		"AWS_LAMBDA_FUNCTION_NAME":        "payjs-close",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", // as template.yaml
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "10",  // seconds, as template.yaml; the emulator's deadline
		"PAYJS_SECRET_ID":                 SecretName,
		"PAYJS_BASE_URL":                  st.Sim.URL,
		"PAYJS_TIMEOUT":                   "5s",
		"PAYJS_SECRET_TTL":                "5m",
	}
	maps.Copy(env, st.Moto.Env())
	maps.Copy(env, st.scheduleEnv())
	return env
}

// Env returns the function's environment: the emulator's, which it passes
// on to the bootstrap.
func (st *Stack) Env() map[string]string { return maps.Clone(st.env) }

// Invoke sends payload to the function through the emulator's invoke
// endpoint; see [Emulator.Invoke].
func (st *Stack) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return st.Emulator.Invoke(ctx, payload)
}

// Close stops the emulator and the bootstrap, the simulator and moto, and
// removes the bootstrap it built. Calling it again does nothing.
func (st *Stack) Close() {
	st.once.Do(func() {
		if st.Emulator != nil {
			st.Emulator.Close()
		}
		if st.Sim != nil {
			st.Sim.Close()
		}
		if st.Moto != nil {
			st.Moto.Close()
		}
		if st.tempDir != "" {
			_ = os.RemoveAll(st.tempDir) // a temporary directory; nothing to do if it fails
		}
	})
}
