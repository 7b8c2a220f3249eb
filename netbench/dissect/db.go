package dissect

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders database and routing protocols over TCP with simple
// framing: PostgreSQL, BGP, PPTP.

func init() {
	registerTCP(pgsqlApp{}, 5432)
	registerTCP(&tcpFuncApp{hdr: 19, pduLen: bgpLen, render: bgpRender}, 179)
	registerTCP(&tcpFuncApp{hdr: 10, pduLen: pptpLen, render: pptpRender}, 1723)
	registerTCP(respApp{}, 6379)
	registerTCP(&tcpFuncApp{hdr: 4, pduLen: kafkaLen, render: kafkaRender}, 9092)
	registerTCP(drdaApp, 446)
	registerTCP(&tcpFuncApp{hdr: 8, pduLen: tnsLen, render: tnsRender}, 1521)
	tcpHeurs = append(tcpHeurs, drdaHeur)
}

// --- PostgreSQL (packet-pgsql.c): ">" or "<", then the message types ---

type pgsqlApp struct{}

type pgsqlState struct {
	started    bool // the frontend sent its startup message
	sslPending bool // the backend answers an SSLRequest with one byte
}

func (pgsqlApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	st, _ := s.conv.appState.(*pgsqlState)
	if st == nil {
		st = &pgsqlState{}
		s.conv.appState = st
	}
	fe := s.dstPort == 5432
	fresh := len(data) == len(s.payload)
	off, n := 0, 0
	var t *span.Text
	st0 := 0
	begin := func() {
		if t == nil {
			t = s.c.colSet("PGSQL")
			st0 = t.Begin()
			if fe {
				t.Lit(">")
			} else {
				t.Lit("<")
			}
		}
	}
	for off < len(data) {
		rest := data[off:]
		if fe && !st.started { // untyped: length, code
			if len(rest) < 8 {
				break
			}
			l := int(binary.BigEndian.Uint32(rest))
			if l < 8 || l > maxPending {
				return len(data)
			}
			if l > len(rest) {
				break
			}
			switch binary.BigEndian.Uint32(rest[4:]) {
			case 80877103: // SSLRequest
				st.sslPending = true
			case 80877104, 80877102: // GSSENCRequest, CancelRequest
			default:
				st.started = true
			}
			begin()
			s.done()
			n++
			off += l
			continue
		}
		if !fe && st.sslPending && (rest[0] == 'S' || rest[0] == 'N') {
			st.sslPending = false
			begin()
			s.done()
			n++
			off++
			continue
		}
		if len(rest) < 5 {
			break
		}
		l := int(binary.BigEndian.Uint32(rest[1:]))
		if l < 4 || l > maxPending {
			return len(data)
		}
		if 1+l > len(rest) {
			break
		}
		begin()
		s.done()
		if n > 0 && t.B[len(t.B)-1] != '>' && t.B[len(t.B)-1] != '<' {
			t.Lit("/")
		}
		t.B = append(t.B, rest[0])
		n++
		off += 1 + l
	}
	if t != nil {
		t.End(span.Message, st0)
	}
	if n == 0 && fresh && off < len(data) {
		// tshark writes the direction before asking for more data.
		t := s.c.colSet("TCP")
		if fe {
			t.Lit(">")
		} else {
			t.Lit("<")
		}
		markSegment(s, false)
		s.done()
	}
	return off
}

// --- BGP ---

func bgpLen(b []byte) int {
	for i := 0; i < 16; i++ {
		if b[i] != 0xff {
			return -1
		}
	}
	return int(binary.BigEndian.Uint16(b[16:]))
}

var bgpTypes = [...]string{1: "OPEN Message", 2: "UPDATE Message", 3: "NOTIFICATION Message",
	4: "KEEPALIVE Message", 5: "ROUTE-REFRESH Message", 6: "CAPABILITY Message"}

func bgpRender(s *tcpSegment, pdu []byte) {
	if !s.rendered {
		s.c.colSet("BGP")
		s.done()
	}
	t := s.c.colSep(", ")
	typ := int(pdu[18])
	if typ < len(bgpTypes) && bgpTypes[typ] != "" {
		t.Field(span.Message, bgpTypes[typ])
	} else {
		t.Field(span.Message, "Unknown Message")
	}
}

// --- PPTP control connection ---

func pptpLen(b []byte) int {
	if binary.BigEndian.Uint32(b[4:]) != 0x1a2b3c4d {
		return -1
	}
	return int(binary.BigEndian.Uint16(b))
}

var pptpTypes = [...]string{1: "Start-Control-Connection-Request", 2: "Start-Control-Connection-Reply",
	3: "Stop-Control-Connection-Request", 4: "Stop-Control-Connection-Reply", 5: "Echo-Request",
	6: "Echo-Reply", 7: "Outgoing-Call-Request", 8: "Outgoing-Call-Reply", 9: "Incoming-Call-Request",
	10: "Incoming-Call-Reply", 11: "Incoming-Call-Connected", 12: "Call-Clear-Request",
	13: "Call-Disconnect-Notify", 14: "WAN-Error-Notify", 15: "Set-Link-Info"}

func pptpRender(s *tcpSegment, pdu []byte) {
	s.done()
	t := s.c.colSet("PPTP")
	typ := int(binary.BigEndian.Uint16(pdu[8:]))
	if typ < len(pptpTypes) && pptpTypes[typ] != "" {
		t.Field(span.Message, pptpTypes[typ])
	} else {
		t.Field(span.Message, "Unknown control type")
	}
}

// --- Redis serialization protocol (RESP) ---

type respApp struct{}

// respValue parses one RESP value at b; it returns the text tshark shows for
// a top-level value and the rest, or ok false.
func respValue(b []byte, top bool) (txt string, rest []byte, ok bool) {
	if len(b) < 3 {
		return "", nil, false
	}
	i := indexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return "", nil, false
	}
	line := b[1 : i-1]
	rest = b[i+1:]
	switch b[0] {
	case '+', '-', ':':
		return string(line), rest, true
	case '$':
		n := atoiPrefix(line)
		if n < 0 {
			return "", rest, true
		}
		if n+2 > len(rest) {
			return "", nil, false
		}
		return string(rest[:n]), rest[n+2:], true
	case '*':
		n := atoiPrefix(line)
		var parts []string
		for k := 0; k < n; k++ {
			var p string
			if p, rest, ok = respValue(rest, false); !ok {
				return "", nil, false
			}
			parts = append(parts, p)
		}
		if top {
			return "Array(" + strconv.Itoa(n) + ")", rest, true
		}
		return strings.Join(parts, " "), rest, true
	}
	return "", nil, false
}

func (respApp) dissect(s *tcpSegment, data []byte) int {
	if keepAlive(s) {
		return len(data)
	}
	req := s.dstPort == 6379
	t := s.c.colSet("RESP")
	s.done()
	st := t.Begin()
	defer t.End(span.Message, st)
	if req {
		t.Lit("Request: ")
		if len(data) > 0 && data[0] == '*' {
			if body, _, ok := respValue(data, false); ok {
				t.Lit(body)
				return len(data)
			}
		}
		t.Lit("[fragment]")
		return len(data)
	}
	t.Lit("Response:")
	for rest := data; len(rest) > 0; {
		v, r, ok := respValue(rest, true)
		if !ok {
			t.Lit(" [fragment]")
			break
		}
		t.Lit(" ")
		t.Lit(v)
		rest = r
	}
	return len(data)
}

// --- Kafka: requests name their API and version; responses take them from
// the request with the same correlation ID ---

var kafkaAPIs = map[uint16]string{0: "Produce", 1: "Fetch", 2: "Offsets", 3: "Metadata",
	4: "LeaderAndIsr", 5: "StopReplica", 6: "UpdateMetadata", 7: "ControlledShutdown",
	8: "OffsetCommit", 9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup",
	12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup", 15: "DescribeGroups", 16: "ListGroups",
	17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics",
	21: "DeleteRecords", 22: "InitProducerId", 23: "OffsetForLeaderEpoch",
	24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn", 27: "WriteTxnMarkers",
	28: "TxnOffsetCommit", 29: "DescribeAcls", 30: "CreateAcls", 31: "DeleteAcls",
	32: "DescribeConfigs", 33: "AlterConfigs", 34: "AlterReplicaLogDirs",
	35: "DescribeLogDirs", 36: "SaslAuthenticate", 37: "CreatePartitions",
	38: "CreateDelegationToken", 39: "RenewDelegationToken", 40: "ExpireDelegationToken",
	41: "DescribeDelegationToken", 42: "DeleteGroups", 43: "ElectLeaders",
	44: "IncrementalAlterConfigs", 45: "AlterPartitionReassignments",
	46: "ListPartitionReassignments", 47: "OffsetDelete"}

// kafkaMaxVersion is the newest version of an API tshark 4.0 decodes.
var kafkaMaxVersion = map[uint16]uint16{0: 8, 1: 11, 2: 5, 3: 11, 18: 3, 22: 3}

type kafkaState struct {
	corr [16]uint32
	api  [16]uint16
	ver  [16]uint16
	n    int
}

func kafkaLen(b []byte) int {
	n := binary.BigEndian.Uint32(b)
	if n > maxPending {
		return -1
	}
	return 4 + int(n)
}

func kafkaAPI(t *span.Text, api, ver uint16) {
	name, ok := kafkaAPIs[api]
	if !ok {
		name = "Unknown"
	}
	t.Lit("Kafka ")
	t.Lit(name)
	t.Lit(" v")
	t.B = strconv.AppendUint(t.B, uint64(ver), 10)
}

func kafkaRender(s *tcpSegment, pdu []byte) {
	s.done()
	st, _ := s.conv.appState.(*kafkaState)
	if st == nil {
		st = &kafkaState{}
		s.conv.appState = st
	}
	t := s.c.colSet("Kafka")
	start := t.Begin()
	defer t.End(span.Message, start)
	api, ver := uint16(0), uint16(0)
	req := s.dstPort == 9092
	if req {
		if len(pdu) < 12 {
			return
		}
		api, ver = binary.BigEndian.Uint16(pdu[4:]), binary.BigEndian.Uint16(pdu[6:])
		i := st.n % len(st.corr)
		st.corr[i], st.api[i], st.ver[i] = binary.BigEndian.Uint32(pdu[8:]), api, ver
		st.n++
		kafkaAPI(t, api, ver)
		t.Lit(" Request")
	} else {
		if len(pdu) < 8 {
			return
		}
		corr := binary.BigEndian.Uint32(pdu[4:])
		found := false
		for i := 0; i < len(st.corr) && i < st.n; i++ {
			if st.corr[i] == corr {
				api, ver, found = st.api[i], st.ver[i], true
			}
		}
		if !found {
			t.Lit("Kafka Response (Undecoded, Request Missing)")
			return
		}
		kafkaAPI(t, api, ver)
		t.Lit(" Response")
	}
	if max, ok := kafkaMaxVersion[api]; ok && ver > max {
		t.Lit(" [Unsupported API version]")
	}
}

// --- DRDA (DB2), found heuristically: each DSS names its command or reply ---

var drdaCodePoints = map[uint16]string{
	0x1041: "EXCSAT", 0x106D: "ACCSEC", 0x106E: "SECCHK", 0x2001: "ACCRDB", 0x1443: "EXCSATRD",
	0x14AC: "ACCSECRD", 0x1219: "SECCHKRM", 0x2201: "ACCRDBRM", 0x2408: "SQLCARD",
	0x2414: "SQLSTT", 0x200D: "PRPSQLSTT", 0x2450: "SQLATTR", 0x200C: "OPNQRY",
	0x2014: "EXCSQLSET", 0x2411: "SQLDARD", 0x2205: "OPNQRYRM", 0x241A: "QRYDSC",
	0x241B: "QRYDTA", 0x220B: "ENDQRYRM", 0x200E: "RDBCMM", 0x220C: "ENDUOWRM",
	0x200B: "EXCSQLSTT", 0x2412: "SQLDTA", 0x2219: "RSLSETRM", 0x2413: "SQLDTARD",
	0x240E: "SQLRSLRD", 0x240B: "SQLCINRD", 0x2005: "CLSQRY", 0x2008: "DSCSQLSTT",
	0x200A: "EXCSQLIMM", 0x2006: "CNTQRY", 0x200F: "RDBRLLBCK", 0x2004: "BGNBND",
	0x2012: "DSCRDBTBL", 0x2009: "ENDBND", 0x2007: "DRPPKG", 0x2002: "BNDSQLSTT",
	0x1254: "CMDCHKRM", 0x124C: "SYNTAXRM", 0x1245: "PRCCNVRM",
	0x2204: "RDBNACRM", 0x2211: "RDBNFNRM", 0x220D: "ABNUOWRM", 0x2218: "RDBUPDRM",
	0x2202: "QRYNOPRM", 0x220F: "OPNQFLRM", 0x2209: "PKGBNARM", 0x220A: "DSCINVRM",
	0x2213: "SQLERRRM", 0x1232: "AGNPRMRM", 0x125F: "TRGNSPRM", 0x2207: "RDBACCRM",
	0x2419: "SQLOBJNAM",
}

func drdaHeur(s *tcpSegment, data []byte) tcpApp {
	if len(data) >= 10 && data[2] == 0xd0 &&
		int(binary.BigEndian.Uint16(data))-int(binary.BigEndian.Uint16(data[6:])) == 6 {
		return drdaApp
	}
	return nil
}

var drdaApp = &tcpFuncApp{hdr: 10, pduLen: drdaLen, render: drdaRender}

func drdaLen(b []byte) int {
	if b[2] != 0xd0 {
		return -1
	}
	return int(binary.BigEndian.Uint16(b))
}

func drdaRender(s *tcpSegment, pdu []byte) {
	if !s.rendered {
		s.c.colSet("DRDA")
		s.done()
	}
	cp := binary.BigEndian.Uint16(pdu[8:])
	name, ok := drdaCodePoints[cp]
	if !ok {
		name = "Unknown (0x" + string(appendHexLower(nil, uint64(cp), 4)) + ")"
	}
	s.c.colSep(" | ").Field(span.Message, name)
}

// --- Oracle TNS ---

var tnsTypes = map[byte]string{1: "Connect", 2: "Accept", 3: "Acknowledge", 4: "Refuse",
	5: "Redirect", 6: "Data", 7: "Null", 9: "Abort", 11: "Resend", 12: "Marker",
	13: "Attention", 14: "Control"}

var tnsDataIDs = map[byte]string{0x01: "Set Protocol", 0x02: "Set Datatypes",
	0x03: "User OCI Functions", 0x04: "Return Status", 0x05: "Access User Address Space",
	0x06: "Row Transfer Header", 0x07: "Row Transfer Data", 0x08: "Return OPI Parameter",
	0x09: "Function Complete", 0x0a: "N Error return definitions follow",
	0x0b: "Sending I/O Vec only for fast UPI", 0x0c: "Send long for fast UPI",
	0x0d: "Invoke user callback", 0x0e: "LOB/FILE data follows", 0x0f: "Warning messages",
	0x10: "Describe Information", 0x11: "Piggy back function follow", 0x12: "Signals special action",
	0x13: "Flush Out Bind data in DML/w RETURN when error", 0x14: "Binary Column Data"}

func tnsLen(b []byte) int {
	n := int(binary.BigEndian.Uint16(b))
	if n == 0 { // version 315 and later: a 32-bit length
		n = int(binary.BigEndian.Uint32(b))
		if n > maxPending {
			return -1
		}
	}
	if n < 8 {
		return -1
	}
	return n
}

func tnsRender(s *tcpSegment, pdu []byte) {
	s.done()
	t := s.c.colSet("TNS")
	st := t.Begin()
	defer t.End(span.Message, st)
	if s.dstPort == 1521 {
		t.Lit("Request, ")
	} else {
		t.Lit("Response, ")
	}
	typ := pdu[4]
	name, ok := tnsTypes[typ]
	if !ok {
		name = "Unknown"
	}
	t.Lit(name)
	t.Lit(" (")
	t.B = strconv.AppendUint(t.B, uint64(typ), 10)
	t.Lit(")")
	if typ == 6 && len(pdu) >= 11 {
		d := pdu[10:]
		if len(d) >= 4 && d[0] == 0xde && d[1] == 0xad && d[2] == 0xbe && d[3] == 0xef {
			t.Lit(", Secure Network Services")
		} else if n, ok := tnsDataIDs[d[0]]; ok {
			t.Lit(", ")
			t.Lit(n)
		}
	}
}
