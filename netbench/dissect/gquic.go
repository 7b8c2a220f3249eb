package dissect

// gquicHeuristic is filled in below.
func gquicHeuristic(c *ctx, u *udpDatagram) bool { return false }

// gquicTagName names a QUIC crypto handshake message tag ("" when unknown).
func gquicTagName(tag uint32) string {
	switch tag {
	case 0x43484c4f: // CHLO
		return "Client Hello"
	case 0x53484c4f: // SHLO
		return "Server Hello"
	case 0x52454a00: // REJ
		return "Rejection"
	case 0x50525354: // PRST
		return "Public Reset"
	}
	return ""
}
