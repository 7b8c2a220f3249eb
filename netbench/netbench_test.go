package netbench

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/lens-go/lens/netbench/span"
)

// pkt describes one TCP or UDP packet for writeCapture.
type pkt struct {
	src, dst     string
	sport, dport uint16
	udp          bool
	flags        string // TCP: any of "SAFPR"
	seq, ack     uint32
	payload      string
	at           time.Duration
}

// writeCapture writes packets to an Ethernet pcap file built with gopacket.
func writeCapture(t *testing.T, path string, pkts []pkt) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	base := time.Unix(1700000000, 0)
	for _, p := range pkts {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 1, 2, 3, 4, 5}, DstMAC: net.HardwareAddr{0, 1, 2, 3, 4, 6}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.ParseIP(p.src).To4(), DstIP: net.ParseIP(p.dst).To4()}
		var tl gopacket.SerializableLayer
		if p.udp {
			ip.Protocol = layers.IPProtocolUDP
			u := &layers.UDP{SrcPort: layers.UDPPort(p.sport), DstPort: layers.UDPPort(p.dport)}
			u.SetNetworkLayerForChecksum(ip)
			tl = u
		} else {
			ip.Protocol = layers.IPProtocolTCP
			tc := &layers.TCP{SrcPort: layers.TCPPort(p.sport), DstPort: layers.TCPPort(p.dport), Seq: p.seq, Ack: p.ack, Window: 1000,
				SYN: strings.Contains(p.flags, "S"), ACK: strings.Contains(p.flags, "A"), FIN: strings.Contains(p.flags, "F"),
				PSH: strings.Contains(p.flags, "P"), RST: strings.Contains(p.flags, "R")}
			tc.SetNetworkLayerForChecksum(ip)
			tl = tc
		}
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, tl, gopacket.Payload(p.payload)); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: base.Add(p.at), CaptureLength: len(b), Length: len(b)}
		if err := w.WritePacket(ci, b); err != nil {
			t.Fatal(err)
		}
	}
}

func handshake(client, server string, cport, sport uint16, at time.Duration) []pkt {
	return []pkt{
		{src: client, dst: server, sport: cport, dport: sport, flags: "S", seq: 100, at: at},
		{src: server, dst: client, sport: sport, dport: cport, flags: "SA", seq: 500, ack: 101, at: at + time.Millisecond},
		{src: client, dst: server, sport: cport, dport: sport, flags: "A", seq: 101, ack: 501, at: at + 2*time.Millisecond},
		{src: client, dst: server, sport: cport, dport: sport, flags: "PA", seq: 101, ack: 501, payload: "hello world, this is lens", at: at + 3*time.Millisecond},
	}
}

func ingestOne(t *testing.T, dir string, inputs ...string) (*Manifest, []*Flow) {
	t.Helper()
	in, err := ExpandInputs(inputs)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "corpus")
	m, err := Ingest(context.Background(), IngestConfig{Inputs: in, Out: out, ShardFlows: 2, CodeVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCorpus(out)
	if err != nil {
		t.Fatal(err)
	}
	var flows []*Flow
	if err := c.Flows(func(f *Flow) error { flows = append(flows, f); return nil }); err != nil {
		t.Fatal(err)
	}
	return m, flows
}

func TestFlowsAnonymisedByDirection(t *testing.T) {
	dir := t.TempDir()
	pkts := handshake("10.0.0.2", "10.0.0.1", 40000, 443, 0) // initiator sorts after responder
	pkts = append(pkts, pkt{src: "10.0.0.2", dst: "8.8.8.8", sport: 5353, dport: 53, udp: true, payload: "abcdefghijklmnop", at: 5 * time.Millisecond})
	writeCapture(t, filepath.Join(dir, "a.pcap"), pkts)
	m, flows := ingestOne(t, dir, filepath.Join(dir, "a.pcap"))
	if m.Flows != 2 || len(flows) != 2 || m.Frames != 5 {
		t.Fatalf("flows %d (read %d), frames %d; want 2, 2, 5", m.Flows, len(flows), m.Frames)
	}
	var tcp *Flow
	for _, f := range flows {
		if f.Proto == 6 {
			tcp = f
		}
	}
	if tcp == nil {
		t.Fatal("no TCP flow")
	}
	if tcp.Src != netip.MustParseAddr("10.0.0.2") || tcp.SrcPort != 40000 || tcp.Packets != 4 {
		t.Errorf("initiator %v:%d packets %d, want 10.0.0.2:40000 and 4", tcp.Src, tcp.SrcPort, tcp.Packets)
	}
	want := []string{
		"<SIP> → <DIP> TCP 60 40000 → 443 [SYN] Seq=0 Win=1000 Len=0",
		"<DIP> → <SIP> TCP 60 443 → 40000 [SYN, ACK] Seq=0 Ack=1 Win=1000 Len=0",
		"<SIP> → <DIP> TCP 60 40000 → 443 [ACK] Seq=1 Ack=1 Win=1000 Len=0",
		"<SIP> → <DIP> TCP 79 40000 → 443 [PSH, ACK] Seq=1 Ack=1 Win=1000 Len=25 6865 6c6c 6f20 776f 726c 642c",
	}
	for i, w := range want {
		if i >= len(tcp.Lines) || tcp.Lines[i].Text != w {
			got := ""
			if i < len(tcp.Lines) {
				got = tcp.Lines[i].Text
			}
			t.Errorf("line %d:\n got %q\nwant %q", i, got, w)
		}
	}
	// Spans: every kind the issue names that this line has, at the right bytes.
	l := tcp.Lines[3]
	kinds := map[span.Kind][]string{}
	for _, s := range l.Spans {
		kinds[s.Kind] = append(kinds[s.Kind], l.Text[s.Start:s.End])
	}
	check := map[span.Kind]string{span.Address: "<SIP>,<DIP>", span.Protocol: "TCP", span.FrameLen: "79", span.Port: "40000,443",
		span.Flags: "[PSH, ACK]", span.Seq: "1", span.Ack: "1", span.Window: "1000", span.PayloadLen: "25",
		span.PayloadHex: "6865 6c6c 6f20 776f 726c 642c"}
	for k, w := range check {
		if got := strings.Join(kinds[k], ","); got != w {
			t.Errorf("spans of kind %s = %q, want %q", k, got, w)
		}
	}
	if h := tcp.Headers[1]; h.Dir != 1 || h.SrcPort != 443 || h.Len != 60 || h.Proto != 6 {
		t.Errorf("header of the SYN/ACK = %+v", h)
	}
	// Raw bytes from the IP header on, for the byte-level baselines; the
	// Ethernet padding of the 60-byte frames is captured data and is kept.
	if len(tcp.Raw) != 4 || tcp.Raw[0][0] != 0x45 || len(tcp.Raw[0]) != 60-14 || len(tcp.Raw[3]) != 20+20+25 {
		t.Errorf("raw packets: %d, first % x", len(tcp.Raw), tcp.Raw[0][:4])
	}
}

func TestFlowKeepsFirst34AndCountsAll(t *testing.T) {
	dir := t.TempDir()
	var pkts []pkt
	for i := 0; i < 50; i++ {
		pkts = append(pkts, pkt{src: "192.168.1.1", dst: "192.168.1.2", sport: 1000, dport: 2000, udp: true, payload: "x", at: time.Duration(i) * time.Millisecond})
	}
	writeCapture(t, filepath.Join(dir, "u.pcap"), pkts)
	_, flows := ingestOne(t, dir, filepath.Join(dir, "u.pcap"))
	if len(flows) != 1 || flows[0].Packets != 50 || len(flows[0].Lines) != MaxFlowPackets || len(flows[0].Headers) != MaxFlowPackets {
		t.Fatalf("got %d flows; packets %d lines %d", len(flows), flows[0].Packets, len(flows[0].Lines))
	}
}

func TestFlowTableBoundedAndIdle(t *testing.T) {
	var emitted []*Flow
	ft := NewFlowTable(FlowTableConfig{IdleTimeout: time.Second, MaxFlows: 3}, "x", "", func(f *Flow) error { emitted = append(emitted, f); return nil })
	dir := t.TempDir()
	var pkts []pkt
	for i := 0; i < 10; i++ { // 10 distinct flows
		pkts = append(pkts, pkt{src: "10.1.1.1", dst: "10.1.1.2", sport: uint16(1000 + i), dport: 53, udp: true, payload: "q", at: time.Duration(i) * time.Millisecond})
	}
	// one late packet: everything before it is idle
	pkts = append(pkts, pkt{src: "10.1.1.1", dst: "10.1.1.2", sport: 9, dport: 53, udp: true, payload: "q", at: 10 * time.Second})
	writeCapture(t, filepath.Join(dir, "b.pcap"), pkts)
	forEachPacket(t, filepath.Join(dir, "b.pcap"), func(p *dissectPacket, ts time.Time) {
		if err := ft.Add(p, ts); err != nil {
			t.Fatal(err)
		}
		if ft.Len() > 3 {
			t.Fatalf("%d active flows, bound is 3", ft.Len())
		}
	})
	if len(emitted) != 10 || ft.Len() != 1 {
		t.Fatalf("emitted %d flows with 1 still active (%d); want 10 and 1", len(emitted), ft.Len())
	}
	ft.Close()
	if len(emitted) != 11 {
		t.Fatalf("after Close %d flows, want 11", len(emitted))
	}
}

func TestIngestDeterministicAndLabelled(t *testing.T) {
	dir := t.TempDir()
	for _, lab := range []string{"email", "chat"} {
		os.MkdirAll(filepath.Join(dir, "in", lab), 0o755)
		for i := 0; i < 3; i++ {
			writeCapture(t, filepath.Join(dir, "in", lab, string(rune('a'+i))+".pcap"), handshake("10.0.0.1", "10.0.0.9", uint16(3000+i), 25, 0))
		}
	}
	// a corrupt capture and a non-capture are skipped and counted; the batch goes on
	os.WriteFile(filepath.Join(dir, "in", "chat", "broken.pcap"), []byte("\xd4\xc3\xb2\xa1garbage"), 0o644)
	m1, flows := ingestOne(t, filepath.Join(dir, "r1"), filepath.Join(dir, "in"))
	m2, _ := ingestOne(t, filepath.Join(dir, "r2"), filepath.Join(dir, "in"))
	if m1.ContentHash != m2.ContentHash || m1.ContentHash == "" {
		t.Fatalf("content hashes differ: %s vs %s", m1.ContentHash, m2.ContentHash)
	}
	if len(flows) != 6 || m1.Skipped[SkipUnreadableCapture] != 1 || len(m1.Errors) != 1 || !strings.Contains(m1.Errors[0], "broken.pcap") {
		t.Fatalf("flows %d, skipped %v, errors %v", len(flows), m1.Skipped, m1.Errors)
	}
	labels := map[string]int{}
	for _, f := range flows {
		labels[f.Label]++
	}
	if labels["email"] != 3 || labels["chat"] != 3 {
		t.Errorf("labels %v", labels)
	}
	if len(m1.Shards) != 3 {
		t.Errorf("%d shards of 2 flows for 6 flows, want 3", len(m1.Shards))
	}
}

func TestCorpusDetectsCorruptShard(t *testing.T) {
	dir := t.TempDir()
	writeCapture(t, filepath.Join(dir, "a.pcap"), handshake("10.0.0.1", "10.0.0.9", 3000, 80, 0))
	ingestOne(t, dir, filepath.Join(dir, "a.pcap"))
	c, err := OpenCorpus(filepath.Join(dir, "corpus"))
	if err != nil {
		t.Fatal(err)
	}
	c.Manifest.Shards[0].SHA256 = strings.Repeat("0", 64)
	err = c.Flows(func(*Flow) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "flows-00000") {
		t.Fatalf("want a corrupt-shard error naming the shard, got %v", err)
	}
	if _, err := NewCorpusWriter(filepath.Join(dir, "corpus"), 1); err == nil {
		t.Fatal("overwriting an existing corpus must be refused")
	}
}
