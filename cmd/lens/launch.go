package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
)

func init() {
	commands["launch"] = command{summary: "run a lens command data-parallel: N local workers, or this node joining a cluster", run: runLaunch}
}

func runLaunch(args []string) error {
	fs := newFlagSet("launch", "(--local N | --join HOST:PORT --world N) -- COMMAND [flags]", `
Starts data-parallel workers of a lens command (pretrain). With --local N it
starts N worker processes on this machine, joined over loopback; with
--join it starts one worker on this node that joins the cluster whose member
listens at HOST:PORT (the first node passes its own --listen address and
no --join), and training starts when --world workers are present. Workers
find each other with memberlist (encrypted with the shared secret), get
ranks in node-name order, and average gradients with the ring all-reduce;
the shared secret comes from $LENS_SECRET or --secret-file (a random one for
--local).`)
	local := fs.Int("local", 0, "start this many worker processes on this machine")
	join := fs.String("join", "", "memberlist address HOST:PORT of an existing member")
	listen := fs.String("listen", "", "this node's memberlist address HOST:PORT (default: an ephemeral port on 127.0.0.1 for --local)")
	world := fs.Int("world", 0, "number of workers in the whole cluster (with --join or --listen)")
	name := fs.String("name", "", "this node's unique name (default: hostname-pid)")
	secretFile := fs.String("secret-file", "", "file holding the shared secret (default: $LENS_SECRET)")
	maxFailures := fs.Int("max-failures", 0, "with --local: succeed when at most this many workers fail and the others finish (an elastic run, see pretrain --min-world)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd := fs.Args()
	if len(cmd) == 0 {
		fs.Usage()
		return errors.New("name the command to run after --")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	secret := os.Getenv(envSecret)
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return err
		}
		secret = strings.TrimSpace(string(b))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *local > 0 {
		if secret == "" {
			b := make([]byte, 32)
			rand.Read(b)
			secret = hex.EncodeToString(b)
		}
		bind := *listen
		if bind == "" {
			if bind, err = freeLoopbackAddr(); err != nil {
				return err
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, *local)
		for i := 0; i < *local; i++ {
			env := []string{envWorld + "=" + strconv.Itoa(*local), envSecret + "=" + secret,
				envNode + "=" + fmt.Sprintf("worker-%03d", i)}
			if i == 0 {
				env = append(env, envBind+"="+bind)
			} else {
				env = append(env, envSeeds+"="+bind)
			}
			c := exec.CommandContext(ctx, self, cmd...)
			c.Env = append(os.Environ(), env...)
			c.Stdout, c.Stderr = prefixWriter(os.Stdout, i), prefixWriter(os.Stderr, i)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = c.Run()
			}(i)
		}
		wg.Wait()
		failed := 0
		for i, err := range errs {
			if err != nil {
				failed++
				fmt.Fprintf(os.Stderr, "launch: worker %d: %v\n", i, err)
			}
		}
		if failed > 0 && failed <= *maxFailures && failed < *local {
			fmt.Fprintf(os.Stderr, "launch: %d of %d workers failed, the others finished (--max-failures %d)\n", failed, *local, *maxFailures)
			return nil
		}
		return errors.Join(errs...)
	}
	if *world <= 0 || (*join == "" && *listen == "") {
		fs.Usage()
		return errors.New("need --local N, or --world N with --join HOST:PORT (or --listen for the first node)")
	}
	if secret == "" {
		return fmt.Errorf("no shared secret: set %s or --secret-file", envSecret)
	}
	if *name == "" {
		h, _ := os.Hostname()
		*name = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	env := []string{envWorld + "=" + strconv.Itoa(*world), envSecret + "=" + secret, envNode + "=" + *name}
	if *listen != "" {
		env = append(env, envBind+"="+*listen)
	}
	if *join != "" {
		env = append(env, envSeeds+"="+*join)
	}
	c := exec.CommandContext(ctx, self, cmd...)
	c.Env = append(os.Environ(), env...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	return c.Run()
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port free right now.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// prefixWriter prefixes each line a worker writes with its index.
func prefixWriter(w *os.File, i int) *lineWriter {
	return &lineWriter{w: w, prefix: fmt.Sprintf("[%d] ", i)}
}

type lineWriter struct {
	mu     sync.Mutex
	w      *os.File
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexAny(string(l.buf), "\n\r")
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.buf[:i]); err != nil {
			return 0, err
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}
