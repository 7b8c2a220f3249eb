package collective

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// fastMemberlist shortens failure detection so tests finish in seconds.
func fastMemberlist(c *memberlist.Config) {
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 2
	c.GossipInterval = 50 * time.Millisecond
	c.PushPullInterval = time.Second
	c.TCPTimeout = time.Second
}

func nodeConfig(name string, workers int, seeds ...string) *Config {
	c := testConfig()
	c.NodeName = name
	c.Workers = workers
	c.Seeds = seeds
	c.Memberlist = fastMemberlist
	c.ReformAttemptTimeout = 2 * time.Second
	return c
}

func newNode(t *testing.T, cfg *Config) *Node {
	t.Helper()
	n, err := NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Join(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNewWorldDeterministicRanks(t *testing.T) {
	ms := []Member{{Name: "c", Addr: "C", Workers: 1}, {Name: "a", Addr: "A", Workers: 2}, {Name: "b", Addr: "B", Workers: 1}}
	w := NewWorld(ms)
	want := []RankInfo{{0, "a", 0, "A"}, {1, "a", 1, "A"}, {2, "b", 0, "B"}, {3, "c", 0, "C"}}
	if len(w.Ranks) != len(want) {
		t.Fatalf("got %v, want %v", w.Ranks, want)
	}
	for i := range want {
		if w.Ranks[i] != want[i] {
			t.Fatalf("rank %d = %+v, want %+v", i, w.Ranks[i], want[i])
		}
	}
	// Order of discovery does not matter.
	w2 := NewWorld([]Member{ms[1], ms[2], ms[0]})
	if Fingerprint(w.Addrs()) != Fingerprint(w2.Addrs()) {
		t.Fatal("world depends on member order")
	}
}

// ringsAllReduce runs one Sum all-reduce over every node's rings and checks
// the result against the direct sum.
func ringsAllReduce(t *testing.T, rings []*Ring, l int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(rings)), uint64(l)))
	bufs := make([][]float32, len(rings))
	for i := range bufs {
		bufs[i] = make([]float32, l)
	}
	// Order rings by rank so checkReduce sees rank order.
	byRank := make([]*Ring, len(rings))
	for _, r := range rings {
		byRank[r.Rank()] = r
	}
	checkReduce(t, byRank, bufs, Sum, rng)
}

func TestMembershipRanksFailureAndReform(t *testing.T) {
	// Three nodes, started out of name order; node "b" runs 2 workers.
	c := newNode(t, nodeConfig("c", 1))
	a := newNode(t, nodeConfig("a", 1, c.GossipAddr()))
	b := newNode(t, nodeConfig("b", 2, c.GossipAddr()))
	nodes := []*Node{a, b, c}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	worlds := make([]World, 3)
	for i, n := range nodes {
		w, err := n.WaitForWorld(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		worlds[i] = w
	}
	for i, w := range worlds {
		if got := strings.Join(w.Nodes(), ","); got != "a,b,c" || w.Size() != 4 {
			t.Fatalf("node %s sees world %v (%d ranks), want a,b,c with 4 ranks", nodes[i].Name(), got, w.Size())
		}
		if Fingerprint(w.Addrs()) != Fingerprint(worlds[0].Addrs()) {
			t.Fatalf("node %s disagrees on ranks: %+v vs %+v", nodes[i].Name(), w.Ranks, worlds[0].Ranks)
		}
	}
	if r := worlds[0].LocalRanks("b"); len(r) != 2 || r[0] != 1 || r[1] != 2 {
		t.Fatalf("b's ranks = %v, want [1 2]", r)
	}

	build := func(nodes []*Node, worlds []World) [][]*Ring {
		all := make([][]*Ring, len(nodes))
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Go(func() { all[i], errs[i] = n.NewRings(ctx, worlds[i]) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		return all
	}
	perNode := build(nodes, worlds)
	var rings []*Ring
	for _, rs := range perNode {
		rings = append(rings, rs...)
	}
	ringsAllReduce(t, rings, 1000)

	// Kill c without a goodbye: a crash as far as the others can tell.
	c.Shutdown()
	killed := time.Now()
	for _, n := range []*Node{a, b} {
		for {
			select {
			case ev := <-n.Events():
				if ev.Member.Name != "c" || ev.Kind != MemberFailed {
					continue
				}
				t.Logf("node %s: c reported failed after %v", n.Name(), time.Since(killed))
			case <-ctx.Done():
				t.Fatalf("node %s: no failure event for c", n.Name())
			}
			break
		}
	}
	// The old rings were aborted by the failure notice.
	for _, r := range perNode[0] {
		if err := r.AllReduce(ctx, make([]float32, 10), Sum); !errors.Is(err, ErrMemberLost) {
			t.Fatalf("all-reduce on a ring with a dead member: got %v, want ErrMemberLost", err)
		}
	}

	// Survivors re-form: a (rank 0) and b (ranks 1, 2).
	var wg sync.WaitGroup
	newRings := make([][]*Ring, 2)
	newWorlds := make([]World, 2)
	errs := make([]error, 2)
	for i, n := range []*Node{a, b} {
		wg.Go(func() { newWorlds[i], newRings[i], errs[i] = n.Reform(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(newWorlds[0].Nodes(), ","); got != "a,b" || newWorlds[0].Size() != 3 {
		t.Fatalf("reformed world %v with %d ranks, want a,b with 3", got, newWorlds[0].Size())
	}
	ringsAllReduce(t, append(newRings[0], newRings[1]...), 100003)
}

// TestReformTwoRanks is the brief's scenario: three single-worker nodes, one
// dies, the other two form a 2-rank ring.
func TestReformTwoRanks(t *testing.T) {
	n0 := newNode(t, nodeConfig("n0", 1))
	n1 := newNode(t, nodeConfig("n1", 1, n0.GossipAddr()))
	n2 := newNode(t, nodeConfig("n2", 1, n0.GossipAddr()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range []*Node{n0, n1, n2} {
		if _, err := n.WaitForWorld(ctx, 3); err != nil {
			t.Fatal(err)
		}
	}
	n1.Shutdown()
	for _, n := range []*Node{n0, n2} {
		for ev := range n.Events() {
			if ev.Kind == MemberFailed && ev.Member.Name == "n1" {
				break
			}
		}
	}
	var wg sync.WaitGroup
	rs := make([][]*Ring, 2)
	ws := make([]World, 2)
	errs := make([]error, 2)
	for i, n := range []*Node{n0, n2} {
		wg.Go(func() { ws[i], rs[i], errs[i] = n.Reform(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if ws[0].Size() != 2 || rs[0][0].Rank() != 0 || rs[1][0].Rank() != 1 {
		t.Fatalf("reformed world %+v, ranks %d %d", ws[0].Ranks, rs[0][0].Rank(), rs[1][0].Rank())
	}
	ringsAllReduce(t, []*Ring{rs[0][0], rs[1][0]}, 7)
	ringsAllReduce(t, []*Ring{rs[0][0], rs[1][0]}, 1<<20)
}

func TestStrangerCannotJoinMemberlist(t *testing.T) {
	a := newNode(t, nodeConfig("a", 1))
	for _, secret := range [][]byte{[]byte("wrong secret"), nil} {
		mc := memberlist.DefaultLocalConfig()
		mc.Name = "stranger"
		mc.BindAddr = "127.0.0.1"
		mc.BindPort = 0
		mc.LogOutput = discard{}
		if secret != nil {
			mc.SecretKey = MemberlistKey(secret)
		}
		fastMemberlist(mc)
		s, err := memberlist.Create(mc)
		if err != nil {
			t.Fatal(err)
		}
		_, jerr := s.Join([]string{a.GossipAddr()})
		time.Sleep(500 * time.Millisecond)
		for _, m := range a.Members() {
			if m.Name == "stranger" {
				t.Fatalf("stranger (secret %q) is a member", secret)
			}
		}
		if a.ml.NumMembers() != 1 || s.NumMembers() != 1 {
			t.Fatalf("stranger (secret %q): members %d / %d, want 1 / 1", secret, a.ml.NumMembers(), s.NumMembers())
		}
		if jerr == nil {
			t.Fatalf("stranger (secret %q) joined without error", secret)
		}
		t.Logf("stranger with secret %q refused: %v", secret, jerr)
		s.Shutdown()
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestGracefulLeaveIsReportedAsLeft(t *testing.T) {
	a := newNode(t, nodeConfig("a", 1))
	b := newNode(t, nodeConfig("b", 1, a.GossipAddr()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.WaitForWorld(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := b.Leave(time.Second); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-a.Events():
			if ev.Member.Name != "b" || (ev.Kind != MemberLeft && ev.Kind != MemberFailed) {
				continue
			}
			if ev.Kind != MemberLeft {
				t.Fatalf("graceful leave reported as %v", ev.Kind)
			}
			return
		case <-ctx.Done():
			t.Fatal("no leave event")
		}
	}
}
