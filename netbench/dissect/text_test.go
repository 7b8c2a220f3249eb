package dissect

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/lens-go/lens/netbench/capture"
)

// txtUDPFrame builds a raw IPv4/UDP frame.
func txtUDPFrame(n int, src, dst [4]byte, sp, dp uint16, payload string) *capture.Frame {
	udp := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], sp)
	binary.BigEndian.PutUint16(udp[2:], dp)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	udp = append(udp, payload...)
	ip := make([]byte, 20, 20+len(udp))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	ip[9] = protoUDP
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	ip = append(ip, udp...)
	return &capture.Frame{Index: n, OrigLen: len(ip), Data: ip, LinkType: capture.LinkRaw}
}

type txtSeg struct {
	dir  int
	data string
}

// checkTCP renders a conversation (after a handshake) and compares the
// Protocol and Info of each segment's frame.
func checkTCP(t *testing.T, clientPort, serverPort uint16, segs []txtSeg, want []renderedFrame) {
	t.Helper()
	b := newTCPFlow(clientPort, serverPort)
	frames := httpHandshake(b)
	for _, s := range segs {
		frames = append(frames, b.frame(s.dir, thACK|thPSH, s.data))
	}
	got := renderFlow(frames...)[3:]
	for i, w := range want {
		if got[i] != w {
			t.Errorf("frame %d: got %q %q, want %q %q", i+4, got[i].proto, got[i].info, w.proto, w.info)
		}
	}
}

func TestFTP(t *testing.T) {
	checkTCP(t, 50000, 21, []txtSeg{
		{1, "220 (vsFTPd 3.0.3)\r\n"},
		{0, "USER anonymous\r\n"},
		{1, "211-Features:\r\n EPRT\r\n"},
	}, []renderedFrame{
		{"FTP", "Response: 220 (vsFTPd 3.0.3)"},
		{"FTP", "Request: USER anonymous"},
		{"FTP", "Response: 211-Features:"},
	})
}

func TestFTPData(t *testing.T) {
	ctl := newTCPFlow(50000, 21)
	frames := httpHandshake(ctl)
	frames = append(frames,
		ctl.frame(0, thACK|thPSH, "PASV\r\n"),
		ctl.frame(1, thACK|thPSH, "227 Entering Passive Mode (10,0,0,2,100,85).\r\n"),
		ctl.frame(0, thACK|thPSH, "RETR a.zip\r\n"))
	data := newTCPFlow(50001, 100*256+85)
	data.n = ctl.n
	frames = append(frames, httpHandshake(data)...)
	frames = append(frames, data.frame(1, thACK, "0123456789"))
	got := renderFlow(frames...)
	if w := (renderedFrame{"FTP-DATA", "FTP Data: 10 bytes (PASV) (RETR a.zip)"}); got[len(got)-1] != w {
		t.Errorf("got %q %q, want %q %q", got[len(got)-1].proto, got[len(got)-1].info, w.proto, w.info)
	}
}

func TestTelnet(t *testing.T) {
	checkTCP(t, 1550, 23, []txtSeg{{0, "\xff\xfd\x03"}, {1, "\xff"}}, []renderedFrame{
		{"TELNET", "Telnet Data ..."},
		{"TELNET", "Telnet Data ...[Malformed Packet]"},
	})
}

func TestSMTP(t *testing.T) {
	checkTCP(t, 1470, 25, []txtSeg{
		{1, "220-mx ESMTP\r\n220-second line\r\n220 last\r\n"},
		{0, "AUTH LOGIN\r\n"},
		{0, "dXNlcg==\r\n"},
		{0, "cGFzcw==\r\n"},
		{0, "DATA\r\n"},
		{0, "From: A <a@b>\r\nSubject: hi\r\nContent-Type: multipart/alternative;\r\n\tboundary=\"XX\"\r\n\r\n"},
		{0, "--XX\r\nContent-Type: text/plain\r\n\r\nx\r\n--XX\r\nContent-Type: text/html\r\n\r\ny\r\n--XX--\r\n.\r\n"},
	}, []renderedFrame{
		{"SMTP", "S: 220-mx ESMTP | second line | last"},
		{"SMTP", "C: AUTH LOGIN"},
		{"SMTP", "C: User: dXNlcg=="},
		{"SMTP", "C: Pass: cGFzcw=="},
		{"SMTP", "C: DATA"},
		{"SMTP", "C: DATA fragment, 84 bytes"},
		{"SMTP/IMF", "from: A <a@b>, subject: hi,  (text/plain) (text/html)"},
	})
}

func TestIRCAndIMAP(t *testing.T) {
	checkTCP(t, 49170, 6667, []txtSeg{
		{0, "NICK x\r\nUSER x 0 * :x\r\n"},
		{1, ":srv 001 x :hi\r\n 5799 :tail\r\n"},
	}, []renderedFrame{{"IRC", "Request (NICK) (USER)"}, {"IRC", "Response (001) (5799)"}})
	checkTCP(t, 46045, 143, []txtSeg{
		{0, "C1 SELECT INBOX\r\n"},
		{1, "* 1 EXISTS\r\nC1 OK SELECT Completed\r\n"},
	}, []renderedFrame{{"IMAP", "Request: C1 SELECT INBOX"}, {"IMAP", "Response: C1 OK SELECT Completed"}})
}

func TestXMPP(t *testing.T) {
	checkTCP(t, 57094, 5222, []txtSeg{
		{0, "<?xml version='1.0' ?>"},
		{0, "<iq type='get' to='a.lan'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"},
		{1, "<iq type='result' from='b@a.lan'><blocklist xmlns='urn:xmpp:blocking'/></iq>"},
		{0, "<iq type='set' id='1'><query xmlns='jabber:iq:register'><username>t</username></query></iq>"},
		{1, "<stream:stream from='a.lan' id='1'"},
	}, []renderedFrame{
		{"XMPP/XML", "XML "},
		{"XMPP/XML", "IQ(get) QUERY(disco#info) > a.lan "},
		{"XMPP/XML", "IQ(result) BLOCKLIST < b@a.lan "},
		{"XMPP/XML", "IQ(set) QUERY "},
		{"TCP", "5222 → 57094 [PSH, ACK] Seq=77 Ack=199 Win=65535 Len=34 [TCP segment of a reassembled PDU]"},
	})
}

func TestSIP(t *testing.T) {
	reg := "REGISTER sip:example.com SIP/2.0\r\nCSeq: 1 REGISTER\r\nContact: <sip:u@10.0.0.1>;expires=0\r\nExpires: 0\r\n\r\n"
	ok := "SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\nContact: <sip:u@10.0.0.1>;expires=60\r\n\r\n"
	invite := "INVITE sip:bob@example.com SIP/2.0\r\nCSeq: 2 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"
	a, b := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	got := renderFlow(txtUDPFrame(1, a, b, 5060, 5060, reg), txtUDPFrame(2, b, a, 5060, 5060, ok), txtUDPFrame(3, a, b, 5060, 5060, invite))
	want := []renderedFrame{
		{"SIP", "Request: REGISTER sip:example.com  (remove 2 bindings) | "},
		{"SIP", "Status: 200 OK (REGISTER)  (1 binding) | "},
		{"SIP/SDP", "Request: INVITE sip:bob@example.com | "},
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("frame %d: got %q %q, want %q %q", i+1, got[i].proto, got[i].info, w.proto, w.info)
		}
	}
}

func TestSocksHandsOverToHTTP(t *testing.T) {
	checkTCP(t, 37904, 1080, []txtSeg{
		{0, "\x05\x02\x00\x01"},
		{1, "\x05\x00"},
		{0, "\x05\x01\x00\x01\x80\x5f\x9b\xc6\x00\x50"},
		{1, "\x05\x00\x00\x01\x00\x00\x00\x00\x10\x10"},
		{0, "GET / HTTP/1.1\r\n\r\n"},
	}, []renderedFrame{
		{"Socks", "Version: 5 Connect to server request"},
		{"Socks", "Version: 5 Connect to server response"},
		{"Socks", "Version: 5 Command Request - Connect"},
		{"Socks", "Version: 5 Command Response - Connect"},
		{"HTTP", "GET / HTTP/1.1 "},
	})
}

func TestIMAPLiteral(t *testing.T) {
	msg := "From: a@b\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\n"
	line := "* 1 FETCH (BODY[HEADER] {" + strconv.Itoa(len(msg)) + "}\r\n"
	checkTCP(t, 46045, 143, []txtSeg{
		{1, line + msg[:10]},
		{1, msg[10:] + ")\r\nC5 OK FETCH completed\r\n"},
	}, []renderedFrame{
		{"TCP", "143 → 46045 [PSH, ACK] Seq=1 Ack=1 Win=65535 Len=" + strconv.Itoa(len(line)+10) + " [TCP segment of a reassembled PDU]"},
		{"IMAP/IMF", "from: a@b, subject: hi,  (text/plain)"},
	})
}

func TestFTPClearTextAfterTLS(t *testing.T) {
	b := newTCPFlow(62092, 21)
	frames := httpHandshake(b)
	frames = append(frames,
		b.frame(0, thACK|thPSH, "AUTH TLS\r\n"),
		b.frame(1, thACK|thPSH, "234 Proceed with negotiation.\r\n"),
		b.frame(0, thACK|thPSH, "\x17\x03\x03\x00\x05hello"),
		b.frame(0, thACK|thPSH, "PASV\r\n"))
	got := renderFlow(frames...)
	if w := (renderedFrame{"FTP", "Request: PASV"}); got[len(got)-1] != w {
		t.Errorf("got %q %q, want %q %q", got[len(got)-1].proto, got[len(got)-1].info, w.proto, w.info)
	}
	if got[len(got)-2].proto == "FTP" {
		t.Errorf("the TLS record was read as FTP: %q", got[len(got)-2].info)
	}
}
