package dissect

import (
	"encoding/binary"
	"strconv"

	"github.com/lens-go/lens/netbench/span"
)

// This file renders BACnet/IP (packet-bvlc.c, packet-bacnet.c,
// packet-bacapp.c): network layer messages by name, application PDUs as
// "<type padded to 16><service>[invoke] <object> <property> ".

func init() {
	registerUDP(udpFuncApp(bacnetUDP), 47808)
}

var bacnetNetMsgs = map[byte]string{0x00: "Who-Is-Router-To-Network", 0x01: "I-Am-Router-To-Network",
	0x02: "I-Could-Be-Router-To-Network", 0x03: "Reject-Message-To-Network",
	0x04: "Router-Busy-To-Network", 0x05: "Router-Available-To-Network",
	0x06: "Initialize-Routing-Table", 0x07: "Initialize-Routing-Table-Ack",
	0x08: "Establish-Connection-To-Network", 0x09: "Disconnect-Connection-To-Network",
	0x12: "What-Is-Networknumber", 0x13: "Networknumber-Is"}

var bacnetPDUTypes = [8]string{"Confirmed-REQ", "Unconfirmed-REQ", "Simple-ACK", "Complex-ACK",
	"Segment-ACK", "Error", "Reject", "Abort"}

var bacnetConfirmed = map[byte]string{0: "acknowledgeAlarm", 1: "confirmedCOVNotification",
	2: "confirmedEventNotification", 5: "subscribeCOV", 6: "atomicReadFile", 7: "atomicWriteFile",
	8: "addListElement", 9: "removeListElement", 10: "createObject", 11: "deleteObject",
	12: "readProperty", 14: "readPropertyMultiple", 15: "writeProperty",
	16: "writePropertyMultiple", 17: "deviceCommunicationControl", 18: "confirmedPrivateTransfer",
	19: "confirmedTextMessage", 20: "reinitializeDevice", 26: "readRange"}

var bacnetUnconfirmed = map[byte]string{0: "i-Am", 1: "i-Have", 2: "unconfirmedCOVNotification",
	3: "unconfirmedEventNotification", 4: "unconfirmedPrivateTransfer", 5: "unconfirmedTextMessage",
	6: "timeSynchronization", 7: "who-Has", 8: "who-Is", 9: "utcTimeSynchronization", 10: "writeGroup"}

var bacnetObjects = [...]string{"analog-input", "analog-output", "analog-value", "binary-input",
	"binary-output", "binary-value", "calendar", "command", "device", "event-enrollment", "file",
	"group", "loop", "multi-state-input", "multi-state-output", "notification-class", "program",
	"schedule", "averaging", "multi-state-value", "trend-log"}

var bacnetProps = map[uint32]string{8: "all", 12: "application-software-version",
	28: "description", 44: "firmware-revision", 70: "model-name", 75: "object-identifier",
	76: "object-list", 77: "object-name", 79: "object-type", 85: "present-value",
	112: "system-status", 120: "vendor-identifier", 121: "vendor-name"}

func bacnetObjectID(t *span.Text, v uint32) {
	typ, inst := v>>22, v&0x3fffff
	if int(typ) < len(bacnetObjects) {
		t.Lit(bacnetObjects[typ])
	} else {
		t.Lit("(Unknown Object)")
	}
	t.Lit(",")
	t.B = strconv.AppendUint(t.B, uint64(inst), 10)
	t.Lit(" ")
}

// bacnetUint reads an unsigned tag value of n bytes.
func bacnetUint(b []byte, n int) uint32 {
	var v uint32
	for i := 0; i < n && i < len(b); i++ {
		v = v<<8 | uint32(b[i])
	}
	return v
}

func bacnetUDP(c *ctx, u *udpDatagram) bool {
	b := u.payload
	if len(b) < 6 || b[0] != 0x81 {
		return false
	}
	fn := b[1]
	n := 4
	if fn == 0x04 { // Forwarded-NPDU: original source address
		n += 6
	}
	if fn != 0x0a && fn != 0x0b && fn != 0x04 || n+2 > len(b) {
		return false
	}
	npdu := b[n:]
	if npdu[0] != 1 {
		return false
	}
	ctl := npdu[1]
	o := 2
	if ctl&0x20 != 0 && o+3 <= len(npdu) {
		o += 3 + int(npdu[o+2])
	}
	if ctl&0x08 != 0 && o+3 <= len(npdu) {
		o += 3 + int(npdu[o+2])
	}
	if ctl&0x20 != 0 {
		o++
	}
	if o >= len(npdu) {
		return false
	}
	if ctl&0x80 != 0 {
		name, ok := bacnetNetMsgs[npdu[o]]
		if !ok {
			name = "Unknown"
		}
		t := c.colSet("BACnet-NPDU")
		t.Field(span.Message, name)
		return true
	}
	a := npdu[o:]
	typ := a[0] >> 4
	t := c.colSet("BACnet-APDU")
	st := t.Begin()
	defer t.End(span.Message, st)
	if int(typ) >= len(bacnetPDUTypes) {
		t.Lit("Unknown")
		return true
	}
	name := bacnetPDUTypes[typ]
	t.Lit(name)
	for i := len(name); i < 16; i++ {
		t.B = append(t.B, ' ')
	}
	var svc byte
	var params []byte
	switch typ {
	case 0:
		h := 4
		if a[0]&0x08 != 0 {
			h += 2
		}
		if h > len(a) {
			return true
		}
		svc, params = a[h-1], a[h:]
		t.Lit(bacnetConfirmed[svc])
		t.Lit("[")
		t.B = appendRight(t.B, uint64(a[2]), 3)
		t.Lit("] ")
	case 1:
		if len(a) < 2 {
			return true
		}
		svc, params = a[1], a[2:]
		t.Lit(bacnetUnconfirmed[svc])
		t.Lit(" ")
	case 2, 3, 5:
		if len(a) < 3 {
			return true
		}
		t.Lit(bacnetConfirmed[a[2]])
		t.Lit("[")
		t.B = appendRight(t.B, uint64(a[1]), 3)
		t.Lit("] ")
		return true
	default:
		return true
	}
	// Walk the service parameters' tags.
	for len(params) > 0 {
		tag := params[0]
		l := int(tag & 7)
		if l == 5 || tag&0x0f == 0x0e || tag&0x0f == 0x0f { // extended or opening/closing: stop
			break
		}
		if 1+l > len(params) {
			break
		}
		v := params[1 : 1+l]
		num := tag >> 4
		ctxTag := tag&0x08 != 0
		switch {
		case !ctxTag && num == 12 && l == 4, ctxTag && num == 0 && l == 4 && typ == 0:
			bacnetObjectID(t, binary.BigEndian.Uint32(v))
			if typ == 1 && svc == 0 {
				return true // i-Am: the device only
			}
		case ctxTag && num == 1 && typ == 0:
			p := bacnetUint(v, l)
			if s, ok := bacnetProps[p]; ok {
				t.Lit(s)
			} else {
				t.B = strconv.AppendUint(t.B, uint64(p), 10)
			}
			t.Lit(" ")
		case ctxTag && typ == 1 && svc == 8: // who-Is limits
			t.B = strconv.AppendUint(t.B, uint64(bacnetUint(v, l)), 10)
			t.Lit(" ")
		}
		params = params[1+l:]
	}
	return true
}
