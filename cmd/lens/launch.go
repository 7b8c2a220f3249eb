package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lens-go/lens/collective"
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
--local). A node whose secret is not the cluster's is refused at once and
exits non-zero with "refused this node: bad key"; a worker waiting for its
world prints who has joined so far (and any refused attempts) every 10 s.
With --local, when workers are lost (killed, or failed) and the others
finish the run, launch notes the loss and succeeds; --fail-on-loss (or
--max-failures) makes a loss an error.`)
	local := fs.Int("local", 0, "start this many worker processes on this machine")
	join := fs.String("join", "", "memberlist address HOST:PORT of an existing member")
	listen := fs.String("listen", "", "this node's memberlist address HOST:PORT (default: an ephemeral port on 127.0.0.1 for --local)")
	world := fs.Int("world", 0, "number of workers in the whole cluster (with --join or --listen)")
	name := fs.String("name", "", "this node's unique name (default: hostname-pid)")
	secretFile := fs.String("secret-file", "", "file holding the shared secret (default: $LENS_SECRET)")
	maxFailures := fs.Int("max-failures", -1, "with --local: fail when more than this many workers are lost, even if the others finish the run (-1: no limit; see pretrain --min-world)")
	failOnLoss := fs.Bool("fail-on-loss", false, "with --local: fail when any worker is lost, even if the others finish the run (the same as --max-failures 0)")
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
			interruptFirst(c)
			c.Env = append(os.Environ(), env...)
			c.Stdout, c.Stderr = prefixWriter(os.Stdout, i), prefixWriter(os.Stderr, i)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = c.Run()
			}(i)
		}
		wg.Wait()
		limit := *maxFailures
		if *failOnLoss {
			limit = 0
		}
		note, err := launchOutcome(errs, limit)
		if note != "" {
			fmt.Fprintln(os.Stderr, note)
		}
		return err
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
	interruptFirst(c)
	c.Env = append(os.Environ(), env...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("worker %s: %w", *name, err)
	}
	return nil
}

// interruptFirst makes the end of c's context interrupt c, as Ctrl-C
// does, so that a worker saves a checkpoint before it exits; c is killed
// only if it still runs a minute later.
func interruptFirst(c *exec.Cmd) {
	c.Cancel = func() error {
		if err := c.Process.Signal(os.Interrupt); err != nil {
			return c.Process.Kill()
		}
		return nil
	}
	c.WaitDelay = time.Minute
}

// launchOutcome judges a local launch from its workers' errors (nil: the
// worker finished). The run succeeded when at least one worker finished it
// and at most limit were lost (limit < 0: any number); note reports the
// lost workers either way.
func launchOutcome(errs []error, limit int) (note string, err error) {
	var lost, done []string
	for i, err := range errs {
		name := fmt.Sprintf("worker-%03d", i) // the node names of a local launch
		if err != nil {
			lost = append(lost, fmt.Sprintf("%s (%v)", name, err))
		} else {
			done = append(done, name)
		}
	}
	switch {
	case len(lost) == 0:
		return "", nil
	case len(done) == 0:
		return "", fmt.Errorf("all %d workers failed: %s", len(errs), strings.Join(lost, ", "))
	case limit >= 0 && len(lost) > limit:
		flag := "--fail-on-loss"
		if limit > 0 {
			flag = fmt.Sprintf("--max-failures %d", limit)
		}
		return "", fmt.Errorf("%d of %d workers lost: %s; %s is set, so this fails although %s finished the run",
			len(lost), len(errs), strings.Join(lost, ", "), flag, strings.Join(done, ", "))
	}
	return fmt.Sprintf("launch: the run finished on %d of %d workers (%s); lost: %s (--fail-on-loss makes a lost worker an error)",
		len(done), len(errs), strings.Join(done, ", "), strings.Join(lost, ", ")), nil
}

// waitForWorld waits, up to timeout, for world members to be alive (this
// node included), telling w who has joined so far and which joins were
// refused for a bad key: after a second, whenever that changes, and every
// every.
func waitForWorld(parent context.Context, node *collective.Node, world int, timeout, every time.Duration, w io.Writer) (collective.World, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	status := func() string {
		ms := node.Members()
		who := make([]string, len(ms))
		for i, m := range ms {
			who[i] = m.Name + " " + m.Gossip
		}
		s := fmt.Sprintf("waiting for a world of %d: joined %d (%s)", world, len(ms), strings.Join(who, ", "))
		if r := node.Refused(); len(r) > 0 {
			s += "; refused for a bad key: " + strings.Join(r, ", ")
		}
		return s
	}
	last, printed := "", time.Time{}
	for {
		wctx, wcancel := context.WithTimeout(ctx, time.Second)
		wd, err := node.WaitForWorld(wctx, world)
		wcancel()
		if err == nil {
			return wd, nil
		}
		if ctx.Err() != nil {
			joined := strings.TrimPrefix(status(), "waiting for a world of "+strconv.Itoa(world)+": ")
			if err := parent.Err(); err != nil {
				return collective.World{}, fmt.Errorf("node %s: stopped waiting for a world of %d (%s): %w", node.Name(), world, joined, err)
			}
			return collective.World{}, fmt.Errorf("node %s: no world of %d after %s: %s", node.Name(), world, timeout, joined)
		}
		if s := status(); s != last || time.Since(printed) >= every {
			fmt.Fprintf(w, "%s: %s\n", node.Name(), s)
			last, printed = s, time.Now()
		}
	}
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
