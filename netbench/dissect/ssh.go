package dissect

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders SSH as packet-ssh.c does without keys: the version
// banners, the key exchange messages in clear, then encrypted packets. With
// a cipher tshark 4.0 can decrypt (chacha20-poly1305, AES-GCM) but no keys,
// it writes nothing for an encrypted packet; otherwise "Encrypted packet
// (len=N)".

func init() {
	registerTCP(sshApp{}, 22)
}

type sshApp struct{}

type sshPeer struct {
	bannerDone bool
	newKeys    bool
	kexInit    bool
	enc        [2]string // encryption proposals: client to server, server to client
	kex        string    // key exchange proposal
	cipher     string    // negotiated cipher once NEWKEYS is seen
}

type sshState struct {
	version int // 0 unknown, 1, 2
	kex     string
	peers   [2]sshPeer // client, server
}

var ssh2Msgs = map[byte]string{
	1: "Disconnect", 2: "Ignore", 3: "Unimplemented", 4: "Debug", 5: "Service Request",
	6: "Service Accept", 7: "Extension Information", 20: "Key Exchange Init", 21: "New Keys",
	50: "User Authentication Request", 51: "User Authentication Failure",
	52: "User Authentication Success", 53: "User Authentication Banner",
	80: "Global Request", 81: "Request Success", 82: "Request Failure",
	90: "Channel Open", 91: "Channel Open Confirmation", 92: "Channel Open Failure",
	93: "Window Adjust", 94: "Channel Data", 95: "Channel Extended Data", 96: "Channel EOF",
	97: "Channel Close", 98: "Channel Request", 99: "Channel Success", 100: "Channel Failure",
}

func sshKexMsg(kex string, code byte) string {
	switch {
	case kex == "diffie-hellman-group-exchange-sha1" || kex == "diffie-hellman-group-exchange-sha256":
		switch code {
		case 30:
			return "Diffie-Hellman Group Exchange Request (Old)"
		case 31:
			return "Diffie-Hellman Group Exchange Group"
		case 32:
			return "Diffie-Hellman Group Exchange Init"
		case 33:
			return "Diffie-Hellman Group Exchange Reply"
		case 34:
			return "Diffie-Hellman Group Exchange Request"
		}
	case strings.HasPrefix(kex, "ecdh-sha2-") || kex == "curve25519-sha256@libssh.org" ||
		kex == "curve25519-sha256" || kex == "curve448-sha512":
		switch code {
		case 30:
			return "Elliptic Curve Diffie-Hellman Key Exchange Init"
		case 31:
			return "Elliptic Curve Diffie-Hellman Key Exchange Reply"
		}
	default:
		switch code {
		case 30:
			return "Diffie-Hellman Key Exchange Init"
		case 31:
			return "Diffie-Hellman Key Exchange Reply"
		}
	}
	return "Unknown (" + strconv.Itoa(int(code)) + ")"
}

// sshChoose is ssh_choose_algo: the first client proposal the server offers.
func sshChoose(client, server string) string {
	if client == "" || server == "" {
		return ""
	}
	for _, c := range strings.Split(client, ",") {
		for _, s := range strings.Split(server, ",") {
			if c == s {
				return c
			}
		}
	}
	return ""
}

// sshNameList reads an SSH name-list at b[off:]; ok is false when short.
func sshNameList(b []byte, off int) (string, int, bool) {
	if off+4 > len(b) {
		return "", off, false
	}
	n := int(binary.BigEndian.Uint32(b[off:]))
	off += 4
	if n > len(b)-off {
		return "", off, false
	}
	return string(b[off : off+n]), off + n, true
}

func (sshApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	st, _ := s.conv.appState.(*sshState)
	if st == nil {
		st = &sshState{}
		s.conv.appState = st
	}
	resp := s.dstPort != 22
	if s.srcPort == 22 && s.dstPort == 22 {
		resp = false
	}
	dir := 0
	if resp {
		dir = 1
	}
	peer := &st.peers[dir]
	proto := "SSH"
	switch st.version {
	case 1:
		proto = "SSHv1"
	case 2:
		proto = "SSHv2"
	}
	var msgs [8]string
	nmsg := 0
	add := func(m string) {
		if nmsg < len(msgs) {
			msgs[nmsg] = m
			nmsg++
		}
	}
	off := 0
	deseg, silent := false, false
	for off < len(data) {
		rest := data[off:]
		if !peer.bannerDone && len(rest) >= 4 && strings.EqualFold(string(rest[:4]), "SSH-") {
			nl := indexByte(rest, '\n')
			if nl < 0 {
				deseg = true
				break
			}
			if !resp && len(rest) >= 6 {
				switch {
				case strings.EqualFold(string(rest[:6]), "SSH-2."):
					st.version = 2
				case len(rest) >= 9 && strings.EqualFold(string(rest[:9]), "SSH-1.99-"):
					st.version = 2
				case strings.EqualFold(string(rest[:6]), "SSH-1."):
					st.version = 1
				}
			}
			pl := nl
			if pl > 0 && rest[pl-1] == '\r' {
				pl--
			}
			add("Protocol (" + formatText(rest[:pl]) + ")")
			peer.bannerDone = true
			off += nl + 1
			continue
		}
		if st.version != 2 || peer.newKeys {
			if peer.newKeys && (peer.cipher == "chacha20-poly1305@openssh.com" ||
				peer.cipher == "aes128-gcm@openssh.com" || peer.cipher == "aes256-gcm@openssh.com") {
				silent = true // tshark tries to decrypt: nothing written
			} else {
				add("Encrypted packet (len=" + strconv.Itoa(len(rest)) + ")")
			}
			off = len(data)
			break
		}
		// A key exchange packet in clear.
		if len(rest) < 4 {
			deseg = true
			break
		}
		plen := int(binary.BigEndian.Uint32(rest))
		if plen+4 > len(rest) {
			deseg = true
			break
		}
		if plen < 2 {
			off = len(data)
			break
		}
		pkt := rest[4 : 4+plen]
		code := pkt[1]
		if code >= 30 && code < 40 {
			add(sshKexMsg(st.kex, code))
		} else if m, ok := ssh2Msgs[code]; ok {
			add(m)
		} else {
			add("Unknown (" + strconv.Itoa(int(code)) + ")")
		}
		switch code {
		case 20: // KEXINIT: cookie, then the name-lists
			if !peer.kexInit {
				peer.kexInit = true
				b := pkt[2:]
				o := 16
				var lists [6]string
				ok := true
				for i := 0; i < 6 && ok; i++ {
					lists[i], o, ok = sshNameList(b, o)
				}
				if ok {
					peer.kex = lists[0]
					peer.enc[0], peer.enc[1] = lists[2], lists[3]
				}
				if st.kex == "" && st.peers[0].kex != "" && st.peers[1].kex != "" {
					st.kex = sshChoose(st.peers[0].kex, st.peers[1].kex)
				}
			}
		case 21: // NEWKEYS
			peer.newKeys = true
			peer.cipher = sshChoose(st.peers[0].enc[dir], st.peers[1].enc[dir])
		}
		off += 4 + plen
	}
	if nmsg == 0 && !silent {
		return off
	}
	t := s.c.colSet(proto)
	s.done()
	start := t.Begin()
	if !deseg {
		if resp {
			t.Lit("Server: ")
		} else {
			t.Lit("Client: ")
		}
	}
	for i := 0; i < nmsg; i++ {
		if i > 0 {
			t.Lit(", ")
		}
		t.Lit(msgs[i])
	}
	t.End(span.Message, start)
	return off
}

// formatText is tshark's format_text for a short ASCII string: printable
// bytes as they are, others escaped.
func formatText(b []byte) string {
	clean := true
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\t':
			sb.WriteString(`\t`)
		default:
			sb.WriteByte('\\')
			sb.WriteByte('0' + c>>6)
			sb.WriteByte('0' + c>>3&7)
			sb.WriteByte('0' + c&7)
		}
	}
	return sb.String()
}
