package collective

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestJoinWithWrongSecretIsRefused: a node whose secret is not the
// cluster's gets, within a second or so rather than never, an error that
// says the cluster refused it for a bad key (wrapping ErrAuth), and the
// member it tried counts the refused attempt by host.
func TestJoinWithWrongSecretIsRefused(t *testing.T) {
	a := newNode(t, nodeConfig("a", 1))
	cfg := nodeConfig("stranger", 1, a.GossipAddr())
	cfg.Secret = []byte("not the cluster's secret")
	s, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err = s.Join(ctx)
	took := time.Since(start)
	if err == nil || !errors.Is(err, ErrAuth) || ctx.Err() != nil {
		t.Fatalf("join with a wrong secret: %v after %s; want an ErrAuth before the deadline", err, took)
	}
	for _, want := range []string{"node stranger", "cluster at " + a.GossipAddr() + " refused this node: bad key", "no installed keys could decrypt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q spans lines", err)
	}
	t.Logf("refused after %s: %v", took.Round(time.Millisecond), err)
	deadline := time.Now().Add(5 * time.Second)
	for len(a.Refused()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if r := a.Refused(); len(r) != 1 || !strings.HasPrefix(r[0], "127.0.0.1 (") {
		t.Fatalf("the cluster's member lists refused joins %q, want one from 127.0.0.1", r)
	}
	if ms := a.Members(); len(ms) != 1 {
		t.Fatalf("members %v: the stranger got in", ms)
	}
	// A node with the right secret still joins.
	b := newNode(t, nodeConfig("b", 1, a.GossipAddr()))
	if _, err := b.WaitForWorld(ctx, 2); err != nil {
		t.Fatal(err)
	}
}
