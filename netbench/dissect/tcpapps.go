package dissect

import (
	"encoding/binary"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file holds small application protocols over TCP whose Info column is
// a simple function of a few header fields of each PDU: each PDU carries its
// own length, so desegmentation is tshark's tcp_dissect_pdus.

// pduLenFunc returns the length of the PDU at the start of b (at least the
// fixed header must be present), or -1 when b does not start a valid PDU.
type pduLenFunc func(b []byte) int

// pduRenderFunc renders one complete PDU into the Info column.
type pduRenderFunc func(s *tcpSegment, pdu []byte)

// tcpPDUs is tcp_dissect_pdus: it renders each complete PDU in data and
// returns the bytes consumed; a partial PDU at the end is left for the next
// segment. Bytes that do not start a valid PDU are consumed unrendered.
func tcpPDUs(s *tcpSegment, data []byte, hdr int, pduLen pduLenFunc, render pduRenderFunc) int {
	off := 0
	held := len(data) - len(s.payload) // bytes held back from earlier segments
	for off < len(data) {
		rest := data[off:]
		if len(rest) < hdr {
			return off
		}
		n := pduLen(rest)
		if n < hdr {
			return len(data)
		}
		if n > len(rest) {
			return off
		}
		render(s, rest[:n])
		if off < held && s.rendered {
			// tshark fences the Info column after a reassembled PDU: what
			// later PDUs of the segment write cannot clear it.
			s.c.setFence()
		}
		off += n
	}
	return off
}

// keepAlive reports a keep-alive segment: its byte was delivered already, so
// tshark does not hand it to the application (the core gives it to us).
func keepAlive(s *tcpSegment) bool {
	return s.analysis&taKeepAlive != 0 && len(s.payload) <= 1
}

// tcpFuncApp adapts a pair of functions to tcpApp.
type tcpFuncApp struct {
	hdr    int
	pduLen pduLenFunc
	render pduRenderFunc
}

// tcpFuncStarted marks a conversation whose first PDU was valid.
type tcpFuncStarted struct{}

func (a *tcpFuncApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	if s.conv.appState == nil && len(data) >= a.hdr {
		if a.pduLen(data) < a.hdr {
			// Not this protocol after all: tshark's port table tries the
			// conversation's other port.
			mine := s.srcPort
			if tcpPortApps[mine] != tcpApp(a) {
				mine = s.dstPort
			}
			return otherPortApp(s, data, mine)
		}
		s.conv.appState = tcpFuncStarted{}
	}
	return tcpPDUs(s, data, a.hdr, a.pduLen, a.render)
}

func init() {
	registerTCP(&tcpFuncApp{hdr: 4, pduLen: synphasorLen, render: synphasorTCP}, 4712)
	registerTCP(&tcpFuncApp{hdr: 3, pduLen: openvpnTCPLen, render: openvpnTCP}, 1194)
	tcpHeurs = append(tcpHeurs, fixHeur)
	registerTCP(tpktApp{}, 3389, 102)
	registerTCP(bitcoinApp{}, 8333)
	registerTCP(&tcpFuncApp{hdr: 8, pduLen: opcuaLen, render: opcuaRender}, 4840)
	registerTCP(&tcpFuncApp{hdr: 4, pduLen: gitLen, render: gitRender}, 9418)
	registerTCP(rsyncApp{}, 873)
	registerTCP(gnutellaApp{}, 6346)
	registerTCP(&tcpFuncApp{hdr: 5, pduLen: openwireLen, render: openwireRender}, 61616)
	registerTCP(&tcpFuncApp{hdr: 4, pduLen: btLen, render: btRender}, 6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889)
}

// --- IEEE C37.118 synchrophasor ---

func synphasorLen(b []byte) int {
	if b[0] != 0xaa {
		return -1
	}
	return int(binary.BigEndian.Uint16(b[2:]))
}

var synphasorTypes = [8]string{"Data Frame", "Header Frame", "Configuration Frame 1",
	"Configuration Frame 2", "Command Frame", "Configuration Frame 3", "", ""}

func synphasorCommand(cmd uint16) string {
	switch {
	case cmd == 1:
		return "data transmission off"
	case cmd == 2:
		return "data transmission on"
	case cmd == 3:
		return "send HDR frame"
	case cmd == 4:
		return "send CFG-1 frame"
	case cmd == 5:
		return "send CFG-2 frame"
	case cmd == 6:
		return "send CFG-3 frame"
	case cmd == 8:
		return "extended frame"
	case cmd >= 0x100 && cmd <= 0xfff:
		return "user designation"
	}
	return "reserved codes"
}

// synphasorInfo writes the Info column of one C37.118 frame.
func synphasorInfo(t *span.Text, b []byte) {
	typ := b[1] >> 4 & 7
	name := synphasorTypes[typ]
	if name == "" {
		name = "invalid packet type"
	}
	st := t.Begin()
	t.Lit(name)
	if typ == 4 && len(b) >= 16 {
		t.Lit(", ")
		t.Lit(synphasorCommand(binary.BigEndian.Uint16(b[14:])))
	}
	t.End(span.Message, st)
}

func synphasorTCP(s *tcpSegment, pdu []byte) {
	t := s.c.colSet("SYNCHROPHASOR")
	synphasorInfo(t, pdu)
	s.done()
}

// --- OpenVPN over TCP: each packet is preceded by its 2-byte length ---

func openvpnTCPLen(b []byte) int {
	return 2 + int(binary.BigEndian.Uint16(b))
}

var openvpnOpcodes = [...]string{
	1: "P_CONTROL_HARD_RESET_CLIENT_V1", 2: "P_CONTROL_HARD_RESET_SERVER_V1",
	3: "P_CONTROL_SOFT_RESET_V1", 4: "P_CONTROL_V1", 5: "P_ACK_V1", 6: "P_DATA_V1",
	7: "P_CONTROL_HARD_RESET_CLIENT_V2", 8: "P_CONTROL_HARD_RESET_SERVER_V2", 9: "P_DATA_V2",
	10: "P_CONTROL_HARD_RESET_CLIENT_V3", 11: "P_CONTROL_WKC_V1",
}

func openvpnOpcode(b byte) string {
	op := b >> 3
	if int(op) < len(openvpnOpcodes) && openvpnOpcodes[op] != "" {
		return openvpnOpcodes[op]
	}
	return "Unknown Messagetype"
}

func openvpnInfo(t *span.Text, b []byte) {
	t.Lit("MessageType: ")
	t.Field(span.Message, openvpnOpcode(b[0]))
}

func openvpnTCP(s *tcpSegment, pdu []byte) {
	t := s.c.colSet("OpenVPN")
	openvpnInfo(t, pdu[2:])
	s.done()
}

// --- FIX (Financial Information eXchange), found heuristically ---

// fixApp is packet-fix.c: a conversation becomes FIX once a segment starts
// with "8=FIX"; from then on every PDU not starting with the marker is a
// "[FIX continuation]".
type fixApp struct{}

type fixState struct {
	confirmed bool
	// need is the length of the PDU held back in each direction, as
	// tcp_dissect_pdus computed it from the first segment (it is not
	// computed again once more bytes arrive).
	need [2]int
}

func fixMarker(b []byte) bool {
	return len(b) >= 5 && b[0] == '8' && b[1] == '=' && b[2] == 'F' && b[3] == 'I' && b[4] == 'X'
}

// fixHeur claims conversations whose first payload starts with "8=": tshark
// tries its FIX heuristic on every segment until one starts with "8=FIX".
func fixHeur(s *tcpSegment, data []byte) tcpApp {
	if len(data) >= 2 && data[0] == '8' && data[1] == '=' {
		return fixApp{}
	}
	return nil
}

func (fixApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	st, _ := s.conv.appState.(*fixState)
	if st == nil {
		st = &fixState{}
		s.conv.appState = st
	}
	if !st.confirmed {
		if !fixMarker(s.payload) {
			return len(data) // the heuristic fails: plain TCP
		}
		st.confirmed = true
		data = s.payload
	}
	off := 0
	need := &st.need[s.dir]
	if *need > 0 && len(data) < len(s.payload)+1 {
		*need = 0 // nothing held back: a fresh start
	}
	for off < len(data) {
		rest := data[off:]
		n := *need
		*need = 0
		if n == 0 {
			if len(rest) < 24 { // FIX_MIN_LEN
				return off
			}
			n = fixPDULen(rest)
		}
		if n <= 0 {
			return len(data)
		}
		if n > len(rest) {
			*need = n
			return off
		}
		fixRender(s, rest[:n])
		off += n
	}
	return off
}

// fixNextHeader is fix_next_header: the length up to the next "\x018=FIX",
// searched (as tshark does) with strstr in an ASCII copy of the bytes, so the
// search stops at a NUL and each byte >= 0x80 counts three.
func fixNextHeader(b []byte) int {
	minLen := len(b)
	pos := 0 // position in the ASCII copy
	for i := 0; i+1 < len(b); i++ {
		c := b[i]
		if c == 0 {
			break
		}
		if c == 1 && b[i+1] == '8' {
			minLen = pos + 1
			if minLen+5 > len(b) {
				break
			}
			if fixMarker(b[minLen:]) {
				break
			}
		}
		if c >= 0x80 {
			pos += 3
		} else {
			pos++
		}
	}
	return minLen
}

// fixPDULen is fix_header_len.
func fixPDULen(b []byte) int {
	if !fixMarker(b) {
		return fixNextHeader(b)
	}
	i := indexByte(b, 1)
	if i < 0 {
		return fixNextHeader(b[5:]) + 5
	}
	off := i + 1
	j := indexByte(b[off:], 1)
	if j < 0 || len(b)-off < 2 || b[off] != '9' || b[off+1] != '=' {
		return fixNextHeader(b[off:])
	}
	ctrla := off + j
	body := atoiPrefix(b[off+2 : ctrla])
	size := body + ctrla + 1
	if len(b) > size+4 {
		if b[size] != '1' || b[size+1] != '0' || b[size+2] != '=' {
			return fixNextHeader(b[5:]) + 5
		}
		k := indexByte(b[size:], 1)
		if k < 0 {
			return size + 7
		}
		return size + k + 1
	}
	return size + 7
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// atoiPrefix is C's atoi: leading digits, 0 when none.
func atoiPrefix(b []byte) int {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	n := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int(b[i]-'0')
		if n > 1<<30 {
			break
		}
	}
	if neg {
		return -n
	}
	return n
}

var fixMsgTypes = map[string]string{
	"0": "Heartbeat", "1": "TestRequest", "2": "ResendRequest", "3": "Reject",
	"4": "SequenceReset", "5": "Logout", "6": "IOI", "7": "Advertisement",
	"8": "ExecutionReport", "9": "OrderCancelReject", "A": "Logon", "B": "News",
	"C": "Email", "D": "NewOrderSingle", "E": "NewOrderList", "F": "OrderCancelRequest",
	"G": "OrderCancelReplaceRequest", "H": "OrderStatusRequest", "J": "AllocationInstruction",
	"K": "ListCancelRequest", "L": "ListExecute", "M": "ListStatusRequest", "N": "ListStatus",
	"P": "AllocationInstructionAck", "Q": "DontKnowTrade", "R": "QuoteRequest", "S": "Quote",
	"T": "SettlementInstructions", "V": "MarketDataRequest", "W": "MarketDataSnapshotFullRefresh",
	"X": "MarketDataIncrementalRefresh", "Y": "MarketDataRequestReject", "Z": "QuoteCancel",
}

func fixRender(s *tcpSegment, pdu []byte) {
	t := s.c.colSet("FIX")
	s.done()
	if !fixMarker(pdu) {
		t.Field(span.Message, "[FIX continuation]")
		return
	}
	// Find the MsgType (35=) field.
	for off := 0; off < len(pdu); {
		e := indexByte(pdu[off:], 1)
		if e < 0 {
			return
		}
		f := pdu[off : off+e]
		if len(f) > 3 && f[0] == '3' && f[1] == '5' && f[2] == '=' {
			v := string(f[3:])
			if name, ok := fixMsgTypes[v]; ok {
				t.Field(span.Message, name)
			} else {
				t.Field(span.Message, "FIX Message ("+v+")")
			}
			return
		}
		off += e + 1
	}
}

// --- TPKT (RFC 1006) with COTP connection setup and RDP negotiation ---

// tpktApp is packet-tpkt.c on the RDP port: a segment that does not start
// with version 3 is "Continuation" data (TLS after RDP negotiation shows so).
type tpktApp struct{}

func (tpktApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	rdp := s.srcPort == 3389 || s.dstPort == 3389
	st, _ := s.conv.appState.(*rdpState)
	if st == nil {
		st = &rdpState{}
		s.conv.appState = st
	}
	off := 0
	for off < len(data) {
		rest := data[off:]
		if rest[0] != 3 {
			if rdp && !st.tls && rest[0]&3 == 0 {
				// An RDP fast-path PDU.
				// tshark takes a fast-path PDU only when it is complete.
				if n := rdpFastPathLen(rest); n >= 2 && n <= len(rest) {
					rdpFastPath(s.c, rest[:n], s.srcPort == 3389)
					s.done()
					off += n
					continue
				}
			}
			t := s.c.colSet("TPKT")
			t.Field(span.Message, "Continuation")
			s.done()
			return len(data)
		}
		if len(rest) < 4 {
			return off
		}
		n := int(binary.BigEndian.Uint16(rest[2:]))
		if n < 4 {
			return len(data)
		}
		if n > len(rest) {
			return off
		}
		tpktRender(s, rest[4:n])
		off += n
	}
	return off
}

func tpktRender(s *tcpSegment, b []byte) {
	s.done()
	if len(b) < 2 || int(b[0])+1 > len(b) {
		s.c.colSet("TPKT")
		return
	}
	typ := b[1] & 0xf0
	switch typ {
	case 0xe0, 0xd0: // CR, CC
		if len(b) < 7 {
			break
		}
		rs, _ := s.conv.appState.(*rdpState)
		if rdpNegotiation(s.c, typ, b[7:], rs) {
			return
		}
		t := s.c.colSet("COTP")
		st := t.Begin()
		if typ == 0xe0 {
			t.Lit("CR TPDU src-ref: 0x")
		} else {
			t.Lit("CC TPDU src-ref: 0x")
		}
		t.B = appendHexLower(t.B, uint64(binary.BigEndian.Uint16(b[4:])), 4)
		t.Lit(" dst-ref: 0x")
		t.B = appendHexLower(t.B, uint64(binary.BigEndian.Uint16(b[2:])), 4)
		t.End(span.Message, st)
		return
	case 0xf0: // DT
		if len(b) >= 3 && b[2]&0x80 != 0 && int(b[0])+1 <= len(b) {
			user := b[int(b[0])+1:]
			if s7comm(s.c, user) {
				return
			}
			if s.srcPort == 3389 || s.dstPort == 3389 {
				if rdpMCSConnect(s.c, user) {
					return
				}
				if len(user) >= 7 && (user[0]>>2 == 25 || user[0]>>2 == 26) {
					// MCS send data: initiator, channel, flags, PER length
					o := 6
					if user[o]&0x80 != 0 {
						o++
					}
					o++
					if o <= len(user) {
						rdpSecurity(s.c, user[o:])
						return
					}
				}
				if t125(s.c, user) {
					return
				}
			}
		}
		if len(b) >= 3 && b[2]&0x80 == 0 && int(b[0])+1 <= len(b) {
			t := s.c.colSet("COTP")
			st := t.Begin()
			t.Lit("DT TPDU (")
			t.B = strconv.AppendUint(t.B, uint64(b[2]&0x7f), 10)
			t.Lit(") [COTP fragment, ")
			t.B = strconv.AppendUint(t.B, uint64(len(b)-int(b[0])-1), 10)
			t.Lit(" bytes]")
			t.End(span.Message, st)
			return
		}
	}
	s.c.colSet("TPKT")
}

// rdpNegotiation renders the RDP cookie and negotiation request/response
// carried in a COTP CR or CC.
func rdpNegotiation(c *ctx, typ byte, user []byte, rs *rdpState) bool {
	var cookie []byte
	if typ == 0xe0 && len(user) >= 8 && string(user[:8]) == "Cookie: " {
		for i := 0; i+1 < len(user); i++ {
			if user[i] == '\r' && user[i+1] == '\n' {
				cookie = user[:i]
				user = user[i+2:]
				break
			}
		}
		if cookie == nil {
			return false
		}
	}
	neg := ""
	if len(user) >= 8 && binary.LittleEndian.Uint16(user[2:]) == 8 {
		switch {
		case typ == 0xe0 && user[0] == 1:
			neg = "Negotiate Request"
		case typ == 0xd0 && user[0] == 2:
			neg = "Negotiate Response"
			if binary.LittleEndian.Uint32(user[4:]) != 0 && rs != nil {
				rs.tls = true // TLS or CredSSP follows
			}
		case typ == 0xd0 && user[0] == 3:
			neg = "Negotiate Failure"
		}
	}
	if cookie == nil && neg == "" {
		return false
	}
	t := c.colSet("RDP")
	st := t.Begin()
	t.LitBytes(cookie)
	if neg != "" {
		if cookie != nil {
			t.Lit(", ")
		}
		t.Lit(neg)
	}
	t.End(span.Message, st)
	return true
}

// appendHexLower appends v as width lower-case hex digits.
func appendHexLower(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[v>>(4*uint(i))&0xf])
	}
	return b
}

// markSegment renders a segment whose bytes all belong to a PDU that is not
// complete yet, as tshark's TCP does when an application asked for more
// data; cleared says the application had cleared the Info column first.
func markSegment(s *tcpSegment, cleared bool) {
	if cleared {
		s.c.colClear()
	}
	s.c.setProto("TCP")
	s.c.colSep(" ").Field(span.Analysis, "[TCP segment of a reassembled PDU]")
}

// --- Bitcoin ---

type bitcoinApp struct{}

var bitcoinCommands = map[string]bool{
	"version": true, "verack": true, "addr": true, "inv": true, "getdata": true,
	"notfound": true, "getblocks": true, "getheaders": true, "tx": true, "block": true,
	"headers": true, "getaddr": true, "mempool": true, "ping": true, "pong": true,
	"reject": true, "alert": true, "filterload": true, "filteradd": true,
	"filterclear": true, "merkleblock": true, "sendheaders": true, "feefilter": true,
	"sendcmpct": true, "cmpctblock": true, "getblocktxn": true, "blocktxn": true,
}

func bitcoinCommand(h []byte) string {
	cmd, _ := cstring(h[4:16])
	if bitcoinCommands[string(cmd)] {
		return string(cmd)
	}
	return "[unknown command]"
}

func (bitcoinApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	fresh := len(data) == len(s.payload) // no bytes held back: a PDU starts here
	off := 0
	rendered := false
	for off < len(data) {
		rest := data[off:]
		if len(rest) < 24 {
			break
		}
		n := 24 + int(binary.LittleEndian.Uint32(rest[16:]))
		if n > len(rest) {
			if n > maxPending {
				// A bogus length: tshark's reassembly gives up on it and
				// starts afresh with the next segment.
				off = len(data)
			}
			break
		}
		if !rendered {
			s.c.colSet("Bitcoin")
			s.done()
			rendered = true
		}
		s.c.colSep(", ").Field(span.Message, bitcoinCommand(rest))
		off += n
	}
	if !rendered && fresh {
		markSegment(s, true)
		s.done() // marked already
	}
	return off
}

// --- OPC UA binary (packet-opcua.c) ---

func opcuaLen(b []byte) int {
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if n < 8 || n > maxPending {
		return -1
	}
	return n
}

var opcuaServices = map[uint32]string{
	397: "ServiceFault", 422: "FindServersRequest", 425: "FindServersResponse",
	428: "GetEndpointsRequest", 431: "GetEndpointsResponse",
	446: "OpenSecureChannelRequest", 449: "OpenSecureChannelResponse",
	452: "CloseSecureChannelRequest", 455: "CloseSecureChannelResponse",
	461: "CreateSessionRequest", 464: "CreateSessionResponse",
	467: "ActivateSessionRequest", 470: "ActivateSessionResponse",
	473: "CloseSessionRequest", 476: "CloseSessionResponse", 479: "CancelRequest", 482: "CancelResponse",
	488: "AddNodesRequest", 491: "AddNodesResponse", 527: "BrowseRequest", 530: "BrowseResponse",
	533: "BrowseNextRequest", 536: "BrowseNextResponse",
	554: "TranslateBrowsePathsToNodeIdsRequest", 557: "TranslateBrowsePathsToNodeIdsResponse",
	560: "RegisterNodesRequest", 563: "RegisterNodesResponse",
	566: "UnregisterNodesRequest", 569: "UnregisterNodesResponse",
	631: "ReadRequest", 634: "ReadResponse", 664: "HistoryReadRequest", 667: "HistoryReadResponse",
	673: "WriteRequest", 676: "WriteResponse", 712: "CallRequest", 715: "CallResponse",
	751: "CreateMonitoredItemsRequest", 754: "CreateMonitoredItemsResponse",
	763: "ModifyMonitoredItemsRequest", 766: "ModifyMonitoredItemsResponse",
	769: "SetMonitoringModeRequest", 772: "SetMonitoringModeResponse",
	781: "DeleteMonitoredItemsRequest", 784: "DeleteMonitoredItemsResponse",
	787: "CreateSubscriptionRequest", 790: "CreateSubscriptionResponse",
	793: "ModifySubscriptionRequest", 796: "ModifySubscriptionResponse",
	799: "SetPublishingModeRequest", 802: "SetPublishingModeResponse",
	826: "PublishRequest", 829: "PublishResponse", 832: "RepublishRequest", 835: "RepublishResponse",
	847: "DeleteSubscriptionsRequest", 850: "DeleteSubscriptionsResponse",
}

// opcuaService names the service of the encodeable object at b.
func opcuaService(b []byte) string {
	if len(b) < 2 {
		return ""
	}
	var id uint32
	switch b[0] {
	case 0:
		id = uint32(b[1])
	case 1:
		if len(b) < 4 {
			return ""
		}
		id = uint32(binary.LittleEndian.Uint16(b[2:]))
	case 2:
		if len(b) < 7 {
			return ""
		}
		id = binary.LittleEndian.Uint32(b[3:])
	default:
		return ""
	}
	if s, ok := opcuaServices[id]; ok {
		return s
	}
	return "unknown service type"
}

// opcuaString skips a UA String or ByteString (int32 length, -1 null).
func opcuaString(b []byte, o int) int {
	if o+4 > len(b) {
		return -1
	}
	n := int(int32(binary.LittleEndian.Uint32(b[o:])))
	o += 4
	if n > 0 {
		o += n
	}
	if o > len(b) {
		return -1
	}
	return o
}

func opcuaRender(s *tcpSegment, pdu []byte) {
	s.done()
	t := s.c.colSet("OpcUa")
	st := t.Begin()
	defer t.End(span.Message, st)
	switch string(pdu[:3]) {
	case "HEL":
		t.Lit("Hello message")
	case "ACK":
		t.Lit("Acknowledge message")
	case "ERR":
		t.Lit("Error message")
	case "RHE":
		t.Lit("ReverseHello message")
	case "MSG", "CLO":
		if pdu[0] == 'M' {
			t.Lit("UA Secure Conversation Message")
		} else {
			t.Lit("CloseSecureChannel message")
		}
		if len(pdu) > 24 {
			if svc := opcuaService(pdu[24:]); svc != "" {
				t.Lit(": ")
				t.Lit(svc)
			}
		}
	case "OPN":
		t.Lit("OpenSecureChannel message")
		o := 12
		for i := 0; i < 3 && o >= 0; i++ {
			o = opcuaString(pdu, o)
		}
		if o >= 0 && o+8 < len(pdu) {
			if svc := opcuaService(pdu[o+8:]); svc != "" {
				t.Lit(": ")
				t.Lit(svc)
			}
		}
	default:
		t.Lit("Unknown message")
	}
}

// --- BitTorrent peer wire protocol (packet-bittorrent.c) ---

var btMessages = map[byte]string{0: "Choke", 1: "Unchoke", 2: "Interested", 3: "Not Interested",
	4: "Have", 5: "Bitfield", 6: "Request", 7: "Piece", 8: "Cancel", 9: "Port",
	13: "Suggest Piece", 14: "Have All", 15: "Have None", 16: "Reject Request",
	17: "Allowed Fast", 20: "Extended"}

func btIsHandshake(b []byte) bool {
	return len(b) >= 20 && b[0] == 19 && string(b[1:20]) == "BitTorrent protocol"
}

// btLen is get_bittorrent_pdu_length: bytes that do not start a known
// message are continuation data up to the end of the segment.
func btLen(b []byte) int {
	if btIsHandshake(b) {
		return 68
	}
	l := binary.BigEndian.Uint32(b)
	if l == 0 {
		return 4
	}
	if len(b) > 4 {
		if _, ok := btMessages[b[4]]; ok && l < 0x100000 {
			return 4 + int(l)
		}
	}
	return len(b)
}

func btRender(s *tcpSegment, pdu []byte) {
	if !s.rendered {
		s.c.colSet("BitTorrent")
		s.done()
	}
	t := &s.c.p.Info
	st := t.Begin()
	defer t.End(span.Message, st)
	if btIsHandshake(pdu) {
		t.Lit("Handshake  ")
		return
	}
	l := binary.BigEndian.Uint32(pdu)
	if l == 0 && len(pdu) == 4 {
		t.Lit("KeepAlive  ")
		return
	}
	if len(pdu) < 5 {
		t.Lit("Continuation data  ")
		return
	}
	name, ok := btMessages[pdu[4]]
	if !ok || int(l)+4 != len(pdu) {
		t.Lit("Continuation data  ")
		return
	}
	t.Lit(name)
	m := pdu[5:]
	hex := func(v uint32) { t.Lit("0x"); t.B = strconv.AppendUint(t.B, uint64(v), 16) }
	switch pdu[4] {
	case 6, 8, 16:
		if len(m) >= 12 {
			t.Lit(", Piece (Idx:")
			hex(binary.BigEndian.Uint32(m))
			t.Lit(",Begin:")
			hex(binary.BigEndian.Uint32(m[4:]))
			t.Lit(",Len:")
			hex(binary.BigEndian.Uint32(m[8:]))
			t.Lit(")")
		}
	case 7:
		if len(m) >= 8 {
			t.Lit(", Idx:")
			hex(binary.BigEndian.Uint32(m))
			t.Lit(",Begin:")
			hex(binary.BigEndian.Uint32(m[4:]))
			t.Lit(",Len:")
			hex(uint32(len(m) - 8))
		}
	case 4, 13, 17:
		if len(m) >= 4 {
			t.Lit(", Piece (Idx:")
			hex(binary.BigEndian.Uint32(m))
			t.Lit(")")
		}
	case 5:
		t.Lit(", Len:")
		hex(uint32(len(m)))
	}
	t.Lit("  ")
}

// otherPortApp hands a conversation that the app registered on port mine
// rejects to the app registered on the other port, if any.
func otherPortApp(s *tcpSegment, data []byte, mine uint16) int {
	other := s.srcPort
	if other == mine {
		other = s.dstPort
	}
	a, ok := tcpPortApps[other]
	if !ok || other == mine {
		s.conv.app = nil
		return len(data)
	}
	s.conv.app = a
	return a.dissect(s, data)
}

// --- Git smart protocol: pkt-lines with a 4-hex-digit length ---

func gitLen(b []byte) int {
	n := 0
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	if n == 0 {
		return 4
	}
	return n
}

func gitRender(s *tcpSegment, pdu []byte) {
	s.c.colSet("Git").Field(span.Message, "Git Smart Protocol")
	s.done()
}

// --- rsync daemon protocol ---

type rsyncApp struct{}

type rsyncState struct{ clientMsgs int }

func (rsyncApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	st, _ := s.conv.appState.(*rsyncState)
	if st == nil {
		st = &rsyncState{}
		s.conv.appState = st
	}
	fromServer := s.srcPort == 873
	t := s.c.colSet("RSYNC")
	s.done()
	start := t.Begin()
	defer t.End(span.Message, start)
	if len(data) >= 10 && string(data[:9]) == "@RSYNCD: " && data[9] >= '0' && data[9] <= '9' {
		ver := data[9:]
		if i := indexByte(ver, '\n'); i >= 0 {
			ver = ver[:i]
		}
		if fromServer {
			t.Lit("Server Initialisation (Version ")
		} else {
			t.Lit("Client Initialisation (Version ")
			st.clientMsgs = 1
		}
		t.LitBytes(ver)
		t.Lit(")")
		return len(data)
	}
	switch {
	case fromServer:
		t.Lit("Data")
	case st.clientMsgs == 1:
		t.Lit("Client Query")
		st.clientMsgs++
	default:
		t.Lit("Client Command")
	}
	return len(data)
}

// --- Gnutella (packet-gnutella.c) ---

type gnutellaApp struct{}

var gnutellaDescriptors = map[byte]string{0x00: "Ping", 0x01: "Pong", 0x02: "Bye",
	0x40: "Push", 0x80: "Query", 0x81: "Query Hit"}

func (gnutellaApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	fresh := len(data) == len(s.payload)
	if len(data) >= 23 && binary.LittleEndian.Uint32(data[19:]) > 4096 {
		// A transfer stream (or the handshake text): no Info.
		s.c.colSet("Gnutella")
		s.done()
		return len(data)
	}
	off := 0
	for off < len(data) {
		rest := data[off:]
		if len(rest) < 23 {
			break
		}
		n := 23 + int(binary.LittleEndian.Uint32(rest[19:]))
		if n > len(rest) {
			break
		}
		t := s.c.colSet("Gnutella")
		s.done()
		if name, ok := gnutellaDescriptors[rest[16]]; ok {
			t.Field(span.Message, name)
		} else {
			t.Field(span.Message, "Unknown")
		}
		off += n
	}
	if off < len(data) && !s.rendered && fresh {
		markSegment(s, true)
		s.done()
	}
	return off
}

// --- OpenWire (ActiveMQ) ---

var openwireTypes = map[byte]string{1: "WireFormatInfo", 2: "BrokerInfo", 3: "ConnectionInfo",
	4: "SessionInfo", 5: "ConsumerInfo", 6: "ProducerInfo", 7: "TransactionInfo",
	8: "DestinationInfo", 9: "RemoveSubscriptionInfo", 10: "KeepAliveInfo", 11: "ShutdownInfo",
	12: "RemoveInfo", 14: "ControlCommand", 15: "FlushCommand", 16: "ConnectionError",
	17: "ConsumerControl", 18: "ConnectionControl", 21: "MessageDispatch", 22: "MessageAck",
	23: "ActiveMQMessage", 24: "ActiveMQBytesMessage", 25: "ActiveMQMapMessage",
	26: "ActiveMQObjectMessage", 27: "ActiveMQStreamMessage", 28: "ActiveMQTextMessage",
	29: "ActiveMQBlobMessage", 30: "Response", 31: "ExceptionResponse", 32: "DataResponse",
	33: "DataArrayResponse", 34: "IntegerResponse", 40: "DiscoveryEvent",
	90: "MessageDispatchNotification", 91: "NetworkBridgeFilter"}

func openwireLen(b []byte) int {
	n := binary.BigEndian.Uint32(b)
	if n > maxPending {
		return -1
	}
	return 4 + int(n)
}

func openwireRender(s *tcpSegment, pdu []byte) {
	s.done()
	t := s.c.colSet("OpenWire")
	if len(pdu) < 5 {
		return
	}
	if name, ok := openwireTypes[pdu[4]]; ok {
		t.Field(span.Message, name)
	} else {
		t.Field(span.Message, "Unknown")
	}
}
