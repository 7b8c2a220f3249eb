package dissect

import (
	"bytes"

	"github.com/lens-go/lens/netbench/span"
)

// XMPP over TCP as packet-xmpp.c renders it: the first XML element of the
// segment names the Info column ("IQ(get) QUERY(disco#info) > host ").

type xmppApp struct{}

func init() { registerTCP(xmppApp{}, 5222, 5269) }

type xmppConv struct{ streamGuard }

// xmlElem is a start tag: its local name and attributes.
type xmlElem struct {
	name  []byte
	attrs []byte // raw attribute text
	body  []byte // what follows the start tag (nil for an empty element)
	end   bool   // a closing tag
}

// attr returns the value of attribute name.
func (e *xmlElem) attr(name string) ([]byte, bool) {
	a := e.attrs
	for len(a) > 0 {
		a = bytes.TrimLeft(a, " \t\r\n")
		eq := bytes.IndexByte(a, '=')
		if eq <= 0 {
			return nil, false
		}
		n := bytes.TrimSpace(a[:eq])
		a = bytes.TrimLeft(a[eq+1:], " \t\r\n")
		if len(a) == 0 || (a[0] != '"' && a[0] != '\'') {
			return nil, false
		}
		q := a[0]
		e := bytes.IndexByte(a[1:], q)
		if e < 0 {
			return nil, false
		}
		v := a[1 : 1+e]
		a = a[e+2:]
		if string(n) == name {
			return v, true
		}
	}
	return nil, false
}

// nextElem finds the next element tag in b, skipping text, comments and
// processing instructions.
func nextElem(b []byte) (xmlElem, bool) {
	for {
		i := bytes.IndexByte(b, '<')
		if i < 0 || i+1 >= len(b) {
			return xmlElem{}, false
		}
		b = b[i:]
		switch b[1] {
		case '?', '!':
			j := bytes.IndexByte(b, '>')
			if j < 0 {
				return xmlElem{}, false
			}
			b = b[j+1:]
			continue
		}
		j := bytes.IndexByte(b, '>')
		if j < 0 {
			return xmlElem{}, false
		}
		tag := b[1:j]
		e := xmlElem{body: b[j+1:]}
		if tag[0] == '/' {
			e.end = true
			tag = tag[1:]
		}
		if len(tag) > 0 && tag[len(tag)-1] == '/' {
			tag = tag[:len(tag)-1]
			e.body = nil
		}
		k := bytes.IndexAny(tag, " \t\r\n")
		if k < 0 {
			k = len(tag)
		}
		e.name, e.attrs = tag[:k], tag[k:]
		if c := bytes.LastIndexByte(e.name, ':'); c >= 0 {
			e.name = e.name[c+1:]
		}
		return e, true
	}
}

func (xmppApp) dissect(s *tcpSegment, data []byte) int {
	st, ok := s.conv.appState.(*xmppConv)
	if !ok {
		st = &xmppConv{}
		s.conv.appState = st
	}
	if st.old(s) {
		return len(data)
	}
	// The XML must end with a complete tag: ask for more otherwise.
	// (tshark skips trailing bytes <= ' ' as a signed char: controls,
	// spaces and every byte >= 0x80.)
	i := len(data) - 1
	for i > 0 && (data[i] <= ' ' || data[i] >= 0x80) {
		i--
	}
	if i >= 0 && data[i] != '>' {
		if s.c.truncated {
			return len(data)
		}
		return 0
	}
	c := s.c
	t := c.colSet("XMPP/XML")
	st0 := t.Begin()
	b := bytes.TrimLeft(data, " \t\r\n")
	toServer := s.dstPort == 5222 || s.dstPort == 5269
	var pkt xmlElem
	found := false
	if bytes.HasPrefix(b, []byte("<?xml")) {
		if j := bytes.Index(b, []byte("?>")); j >= 0 && len(bytes.TrimSpace(b[j+2:])) == 0 {
			t.Lit("XML ")
			t.End(span.Message, st0)
			s.done()
			return len(data)
		}
	}
	pkt, found = lastTopElem(b)
	switch {
	case !found:
		t.Lit("UNKNOWN PACKET ")
	case pkt.end:
		if string(pkt.name) == "stream" {
			t.Lit("STREAM END")
		} else {
			t.Lit("UNKNOWN PACKET ")
		}
	default:
		switch string(pkt.name) {
		case "iq":
			typ, _ := pkt.attr("type")
			t.Lit("IQ(")
			t.B = appendFmtText(t.B, typ)
			t.Lit(") ")
			if pkt.body != nil {
				xmppIQChildren(t, pkt.body)
			}
		case "presence":
			t.Lit("PRESENCE ")
		case "message":
			t.Lit("MESSAGE ")
		case "auth":
			t.Lit("AUTH")
		case "challenge":
			t.Lit("CHALLENGE")
		case "response":
			t.Lit("RESPONSE")
		case "success":
			t.Lit("SUCCESS")
		case "failure":
			t.Lit("FAILURE ")
		case "stream":
			t.Lit("STREAM ")
		case "features":
			t.Lit("FEATURES ")
		case "starttls":
			t.Lit("STARTTLS")
		case "proceed":
			t.Lit("PROCEED")
		default:
			t.Lit("UNKNOWN PACKET ")
		}
		if toServer {
			if v, ok := pkt.attr("to"); ok {
				t.Lit("> ")
				t.B = appendFmtText(t.B, v)
				t.Lit(" ")
			}
		} else if v, ok := pkt.attr("from"); ok {
			t.Lit("< ")
			t.B = appendFmtText(t.B, v)
			t.Lit(" ")
		}
	}
	t.End(span.Message, st0)
	s.done()
	if found && !pkt.end && string(pkt.name) == "proceed" {
		handToTLS(s)
	}
	return len(data)
}

// lastTopElem returns the last element at the top level of b (or its
// closing tag when b holds only one).
func lastTopElem(b []byte) (xmlElem, bool) {
	var last xmlElem
	found := false
	depth := 0
	for {
		e, ok := nextElem(b)
		if !ok {
			return last, found
		}
		switch {
		case e.end:
			if depth == 0 && !found {
				last, found = e, true
			}
			depth--
		case depth <= 0:
			last, found = e, true
			if e.body != nil {
				depth = 1
			} else {
				depth = 0
			}
		default:
			if e.body != nil {
				depth++
			}
		}
		if depth < 0 {
			depth = 0
		}
		// advance past this tag
		if e.body != nil {
			b = e.body
		} else {
			i := bytes.IndexByte(b, '>')
			if i < 0 {
				return last, found
			}
			b = b[i+1:]
			// nextElem skipped leading text; re-find from the tag we used
		}
	}
}

// xmppIQChildren appends what the IQ child element handlers put in the
// Info column, for each direct child of the IQ.
func xmppIQChildren(t *span.Text, body []byte) {
	depth := 0
	for {
		e, ok := nextElem(body)
		if !ok {
			return
		}
		if e.end {
			if depth == 0 {
				return // the IQ's own closing tag
			}
			depth--
		} else {
			if depth == 0 {
				xmppIQChild(t, &e)
			}
			if e.body != nil {
				depth++
			}
		}
		if e.body != nil {
			body = e.body
		} else {
			i := bytes.IndexByte(body, '>')
			if i < 0 {
				return
			}
			body = body[i+1:]
		}
	}
}

// xmppQueryNS are the query namespaces with their own handlers.
var xmppQueryNS = map[string]bool{
	"http://jabber.org/protocol/disco#items": true, "http://jabber.org/protocol/disco#info": true,
	"http://jabber.org/protocol/bytestreams": true, "jabber:iq:roster": true,
	"http://jabber.org/protocol/muc#owner": true, "http://jabber.org/protocol/muc#admin": true,
}

// xmppIQChild appends the Info text of one IQ child element.
func xmppIQChild(t *span.Text, ch *xmlElem) {
	switch string(ch.name) {
	case "error":
		return
	case "query":
		ns, _ := ch.attr("xmlns")
		if xmppQueryNS[string(ns)] {
			if i := bytes.LastIndexByte(ns, '/'); i >= 0 {
				ns = ns[i+1:]
			}
			t.Lit("QUERY(")
			t.B = appendFmtText(t.B, ns)
			t.Lit(") ")
			return
		}
	}
	for _, c := range ch.name {
		if c >= 'a' && c <= 'z' {
			c -= 32
		}
		t.B = append(t.B, c)
	}
	t.Lit(" ")
}
