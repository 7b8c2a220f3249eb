package collective

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Member is one process of the cluster as seen through memberlist.
type Member struct {
	Name    string // memberlist node name
	Gossip  string // memberlist address
	Addr    string // collective transport address
	Workers int    // ranks it contributes
}

// RankInfo places one rank in a world.
type RankInfo struct {
	Rank   int
	Node   string // member name
	Worker int    // local worker index on that member
	Addr   string // member's transport address
}

// World is an agreed set of ranks: members sorted by name, each contributing
// its workers in local index order.
type World struct {
	Ranks []RankInfo
}

// Size is the number of ranks.
func (w World) Size() int { return len(w.Ranks) }

// Addrs lists the transport address of every rank, in rank order.
func (w World) Addrs() []string {
	a := make([]string, len(w.Ranks))
	for i, r := range w.Ranks {
		a[i] = r.Addr
	}
	return a
}

// Nodes lists the member names in the world, in rank order.
func (w World) Nodes() []string {
	var names []string
	for _, r := range w.Ranks {
		if len(names) == 0 || names[len(names)-1] != r.Node {
			names = append(names, r.Node)
		}
	}
	return names
}

// LocalRanks lists the ranks of node's workers, in worker order.
func (w World) LocalRanks(node string) []int {
	var rs []int
	for _, r := range w.Ranks {
		if r.Node == node {
			rs = append(rs, r.Rank)
		}
	}
	return rs
}

// NewWorld assigns ranks deterministically: members sorted by name, then by
// local worker index.
func NewWorld(members []Member) World {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int { return cmpString(a.Name, b.Name) })
	var w World
	for _, m := range ms {
		for k := range m.Workers {
			w.Ranks = append(w.Ranks, RankInfo{Rank: len(w.Ranks), Node: m.Name, Worker: k, Addr: m.Addr})
		}
	}
	return w
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// EventKind says what happened to a member.
type EventKind int

const (
	MemberJoined EventKind = iota
	MemberLeft             // left gracefully
	MemberFailed           // declared dead by memberlist's failure detector
	MemberUpdated
)

func (k EventKind) String() string {
	switch k {
	case MemberJoined:
		return "joined"
	case MemberLeft:
		return "left"
	case MemberFailed:
		return "failed"
	case MemberUpdated:
		return "updated"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// MemberEvent reports a membership change.
type MemberEvent struct {
	Kind   EventKind
	Member Member
	Time   time.Time
}

// nodeMeta is gossiped in memberlist node metadata.
type nodeMeta struct {
	Addr    string `json:"a"`
	Workers int    `json:"w"`
	Leaving bool   `json:"l,omitempty"` // set by Leave just before leaving
}

// Node is one process's membership in the collective cluster: a memberlist
// member (encrypted with a key derived from the shared secret) plus the
// collective Transport its rings use.
type Node struct {
	cfg    Config
	tr     *Transport
	ml     *memberlist.Memberlist
	meta   []byte
	gossip string // memberlist address
	log    *log.Logger
	events chan MemberEvent

	mu       sync.Mutex
	members  map[string]Member // live members with valid metadata, from events
	leaving  map[string]bool   // members that announced a graceful leave
	refused  map[string]int    // hosts whose joins memberlist refused (bad key), with counts
	rings    []*Ring
	world    World
	shutdown bool
}

// NewNode starts the transport and the memberlist member. It does not join
// anyone yet: call Join.
func NewNode(cfg *Config) (*Node, error) {
	c := *cfg
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.NodeName == "" {
		return nil, errors.New("collective: config: NodeName is empty")
	}
	tr, err := NewTransport(&c)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: c, tr: tr, log: c.logger(), events: make(chan MemberEvent, c.EventBuffer), leaving: map[string]bool{},
		members: map[string]Member{}, refused: map[string]int{}}
	n.meta, _ = json.Marshal(nodeMeta{Addr: tr.Addr(), Workers: c.Workers})
	if len(n.meta) > memberlist.MetaMaxSize {
		tr.Close()
		return nil, fmt.Errorf("collective: node %s: metadata %d bytes exceeds memberlist limit %d", c.NodeName, len(n.meta), memberlist.MetaMaxSize)
	}
	mc := memberlist.DefaultLocalConfig()
	mc.Name = c.NodeName
	mc.BindAddr = c.BindAddr
	mc.BindPort = c.BindPort
	mc.AdvertisePort = c.BindPort
	mc.SecretKey = MemberlistKey(c.Secret)
	mc.GossipVerifyIncoming = true
	mc.GossipVerifyOutgoing = true
	mc.Delegate = (*nodeDelegate)(n)
	mc.Events = (*eventDelegate)(n)
	// memberlist's log is where a join it refused shows: watch it.
	logOut, prefix, flags := io.Discard, "", log.LstdFlags
	if c.Logger != nil {
		logOut, prefix, flags = c.Logger.Writer(), c.Logger.Prefix(), c.Logger.Flags()
	}
	mc.Logger = log.New(&refusalWatch{n: n, next: logOut}, prefix, flags)
	if c.Memberlist != nil {
		c.Memberlist(mc)
		if mc.LogOutput != nil { // the hook chose a log: keep watching
			mc.Logger = log.New(&refusalWatch{n: n, next: mc.LogOutput}, "", log.LstdFlags)
			mc.LogOutput = nil
		}
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		tr.Close()
		return nil, fmt.Errorf("collective: node %s: start memberlist on %s:%d: %w", c.NodeName, c.BindAddr, c.BindPort, err)
	}
	n.ml = ml
	ln := ml.LocalNode() // read once: memberlist mutates it on UpdateNode
	n.gossip = net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
	return n, nil
}

// Name is this node's memberlist name.
func (n *Node) Name() string { return n.cfg.NodeName }

// GossipAddr is the memberlist address others pass in Config.Seeds.
func (n *Node) GossipAddr() string { return n.gossip }

// Transport is the node's collective listener.
func (n *Node) Transport() *Transport { return n.tr }

// Events reports joins, graceful leaves and failures of other members. A
// failure of a member of the current ring also aborts the ring, so a
// running AllReduce returns at once. Events are dropped (and logged) when
// the channel is full.
func (n *Node) Events() <-chan MemberEvent { return n.events }

// Join contacts Config.Seeds, retrying until one answers or ctx ends. With
// no seeds the node starts a new cluster and Join returns at once. When
// the seeds refuse this node because it does not share their secret (its
// messages cannot be decrypted, or it cannot decrypt theirs), Join gives up
// at once with an error that says so and wraps ErrAuth.
func (n *Node) Join(ctx context.Context) error {
	if len(n.cfg.Seeds) == 0 {
		return nil
	}
	for {
		_, err := n.ml.Join(n.cfg.Seeds)
		if err == nil {
			return nil
		}
		if keyMismatch(err.Error()) {
			// Retrying cannot help: the cluster does not share our key.
			return fmt.Errorf("collective: node %s: the cluster at %s refused this node: bad key (this node's shared secret is not the cluster's; memberlist: %s): %w",
				n.cfg.NodeName, strings.Join(n.cfg.Seeds, ", "), flatten(err), ErrAuth)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("collective: node %s: join %v: %w (last error: %v)", n.cfg.NodeName, n.cfg.Seeds, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// keyMismatch reports whether a memberlist error or log line says that the
// two sides do not share the encryption key (or one side has none).
func keyMismatch(msg string) bool {
	return strings.Contains(msg, "no installed keys could decrypt") ||
		strings.Contains(msg, "encryption is configured but remote state is not encrypted") ||
		strings.Contains(msg, "remote state is encrypted and encryption is not configured")
}

// flatten puts a multi-line memberlist (multierror) error on one line.
func flatten(err error) string {
	var parts []string
	for l := range strings.Lines(err.Error()) {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "* "))
		if l != "" && !strings.HasSuffix(l, "error occurred:") && !strings.HasSuffix(l, "errors occurred:") {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// refusalWatch passes memberlist's log on to next and counts, by host,
// the connections memberlist refused because their sender does not have
// the cluster's key (a node started with another secret trying to join).
type refusalWatch struct {
	n    *Node
	next io.Writer
}

func (w *refusalWatch) Write(p []byte) (int, error) {
	if line := string(p); keyMismatch(line) {
		from := "an unknown address"
		if _, addr, ok := strings.Cut(line, "from="); ok {
			addr = strings.TrimSpace(addr)
			if host, _, err := net.SplitHostPort(addr); err == nil {
				addr = host
			}
			from = addr
		}
		w.n.mu.Lock()
		w.n.refused[from]++
		w.n.mu.Unlock()
	}
	return w.next.Write(p)
}

// Refused lists the hosts whose attempts to join this node were refused
// because they do not share the cluster's secret, with the number of
// attempts, sorted by host ("127.0.0.1 (3 attempts)").
func (n *Node) Refused() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for host, k := range n.refused {
		plural := "s"
		if k == 1 {
			plural = ""
		}
		out = append(out, fmt.Sprintf("%s (%d attempt%s)", host, k, plural))
	}
	slices.Sort(out)
	return out
}

// Members lists the live members with valid metadata, sorted by name.
//
// The list is kept from memberlist's join/update/leave events, copied while
// memberlist calls us: the *memberlist.Node values that
// Memberlist.Members returns point into state memberlist keeps mutating.
func (n *Node) Members() []Member {
	n.mu.Lock()
	ms := make([]Member, 0, len(n.members))
	for _, m := range n.members {
		ms = append(ms, m)
	}
	n.mu.Unlock()
	slices.SortFunc(ms, func(a, b Member) int { return cmpString(a.Name, b.Name) })
	return ms
}

// track records m's current metadata (or forgets m) in the member table.
func (n *Node) track(m *memberlist.Node, alive bool) Member {
	var meta nodeMeta
	err := json.Unmarshal(m.Meta, &meta)
	mem := Member{Name: m.Name, Gossip: m.Address(), Addr: meta.Addr, Workers: meta.Workers}
	n.mu.Lock()
	defer n.mu.Unlock()
	if alive && err == nil && meta.Addr != "" && meta.Workers >= 1 && !meta.Leaving {
		n.members[m.Name] = mem
	} else {
		delete(n.members, m.Name)
	}
	return mem
}

// WaitForWorld returns once at least nodes members (this one included) are
// alive, with the world their ranks form.
func (n *Node) WaitForWorld(ctx context.Context, nodes int) (World, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		ms := n.Members()
		if len(ms) >= nodes {
			return NewWorld(ms), nil
		}
		select {
		case <-ctx.Done():
			return World{}, fmt.Errorf("collective: node %s: waiting for %d members, have %d: %w", n.cfg.NodeName, nodes, len(ms), ctx.Err())
		case <-t.C:
		}
	}
}

// NewRings builds this node's ring endpoints of w, one per local worker in
// worker order, and makes them the node's current rings (closing earlier
// ones). Every member of w must call it with the same world.
func (n *Node) NewRings(ctx context.Context, w World) ([]*Ring, error) {
	local := w.LocalRanks(n.cfg.NodeName)
	if len(local) == 0 {
		return nil, fmt.Errorf("collective: node %s is not in the world %v", n.cfg.NodeName, w.Nodes())
	}
	n.closeRings()
	addrs := w.Addrs()
	rings := make([]*Ring, len(local))
	errs := make([]error, len(local))
	var wg sync.WaitGroup
	for i, rank := range local {
		wg.Go(func() { rings[i], errs[i] = n.tr.NewRing(ctx, RingSpec{Rank: rank, Addrs: addrs}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, r := range rings {
			if r != nil {
				r.Close()
			}
		}
		return nil, err
	}
	n.mu.Lock()
	n.rings, n.world = rings, w
	n.mu.Unlock()
	// A member may have died while we connected.
	alive := map[string]bool{}
	for _, m := range n.Members() {
		alive[m.Name] = true
	}
	for _, name := range w.Nodes() {
		if !alive[name] {
			n.abortFor(name, "is gone")
		}
	}
	return rings, nil
}

// Reform closes the current rings and builds new ones, with new ranks, from
// the members alive now. It retries with a fresh member view every
// Config.ReformAttemptTimeout until the survivors agree or ctx ends. Every
// survivor must call it after a failure.
func (n *Node) Reform(ctx context.Context) (World, []*Ring, error) {
	n.closeRings()
	for {
		w := NewWorld(n.Members())
		actx, cancel := context.WithTimeout(ctx, n.cfg.ReformAttemptTimeout)
		rings, err := n.NewRings(actx, w)
		cancel()
		if err == nil {
			return w, rings, nil
		}
		if ctx.Err() != nil {
			return World{}, nil, fmt.Errorf("collective: node %s: reform from %v: %w", n.cfg.NodeName, w.Nodes(), err)
		}
		n.log.Printf("collective: node %s: reform attempt with %v: %v", n.cfg.NodeName, w.Nodes(), err)
	}
}

func (n *Node) closeRings() {
	n.mu.Lock()
	rings := n.rings
	n.rings, n.world = nil, World{}
	n.mu.Unlock()
	for _, r := range rings {
		r.Close()
	}
}

// abortFor breaks the current rings if they contain member name.
func (n *Node) abortFor(name, what string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !slices.Contains(n.world.Nodes(), name) {
		return
	}
	for _, r := range n.rings {
		r.Abort(fmt.Errorf("collective: rank %d: member %s (ranks %v) %s; ring aborted: %w", r.rank, name, n.world.LocalRanks(name), what, ErrMemberLost))
	}
}

// ErrMemberLost is wrapped by the error of a ring aborted because a member
// of its world failed or left.
var ErrMemberLost = errors.New("member lost")

// Leave announces a graceful departure (others report MemberLeft rather
// than MemberFailed), then shuts the node down.
func (n *Node) Leave(timeout time.Duration) error {
	var meta nodeMeta
	json.Unmarshal(n.meta, &meta)
	meta.Leaving = true
	n.mu.Lock()
	n.meta, _ = json.Marshal(meta)
	n.mu.Unlock()
	err := n.ml.UpdateNode(timeout)
	if err == nil {
		time.Sleep(min(timeout, 200*time.Millisecond)) // let the update gossip ahead of the leave
	}
	err = errors.Join(err, n.ml.Leave(timeout))
	return errors.Join(err, n.Shutdown())
}

// Shutdown stops the node without telling anyone (others see a failure).
func (n *Node) Shutdown() error {
	n.mu.Lock()
	if n.shutdown {
		n.mu.Unlock()
		return nil
	}
	n.shutdown = true
	n.mu.Unlock()
	n.closeRings()
	return errors.Join(n.ml.Shutdown(), n.tr.Close())
}

func (n *Node) emit(kind EventKind, m Member) {
	ev := MemberEvent{Kind: kind, Member: m, Time: time.Now()}
	select {
	case n.events <- ev:
	default:
		n.log.Printf("collective: node %s: event channel full, dropped %v %s", n.cfg.NodeName, kind, m.Name)
	}
}

// nodeDelegate gossips the node's metadata.
type nodeDelegate Node

func (d *nodeDelegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil
	}
	return d.meta
}
func (d *nodeDelegate) NotifyMsg([]byte)                           {}
func (d *nodeDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *nodeDelegate) LocalState(join bool) []byte                { return nil }
func (d *nodeDelegate) MergeRemoteState(buf []byte, join bool)     {}

// eventDelegate turns memberlist events into MemberEvents.
type eventDelegate Node

func (e *eventDelegate) NotifyJoin(m *memberlist.Node) {
	mem := (*Node)(e).track(m, true)
	if m.Name != e.cfg.NodeName {
		(*Node)(e).emit(MemberJoined, mem)
	}
}

// NotifyLeave cannot tell a crash from a goodbye by itself (memberlist
// passes no state), so a member that announced Leaving in its metadata left
// and any other one failed.
func (e *eventDelegate) NotifyLeave(m *memberlist.Node) {
	var meta nodeMeta
	json.Unmarshal(m.Meta, &meta)
	e.mu.Lock()
	left := meta.Leaving || e.leaving[m.Name]
	delete(e.leaving, m.Name)
	e.mu.Unlock()
	kind, what := MemberFailed, "failed"
	if left {
		kind, what = MemberLeft, "left"
	}
	mem := (*Node)(e).track(m, false)
	(*Node)(e).abortFor(m.Name, what)
	(*Node)(e).emit(kind, mem)
}

func (e *eventDelegate) NotifyUpdate(m *memberlist.Node) {
	var meta nodeMeta
	if json.Unmarshal(m.Meta, &meta) == nil && meta.Leaving {
		e.mu.Lock()
		e.leaving[m.Name] = true
		e.mu.Unlock()
	}
	(*Node)(e).emit(MemberUpdated, (*Node)(e).track(m, true))
}
