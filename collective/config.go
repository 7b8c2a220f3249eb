package collective

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a Node, a Transport and the rings built on them. Start
// from DefaultConfig and change what you need.
type Config struct {
	// NodeName names this process in the memberlist cluster; it must be
	// unique. Ranks are assigned in node-name order.
	NodeName string
	// Workers is the number of ranks (devices) this process contributes.
	Workers int
	// BindAddr and BindPort are memberlist's gossip address; port 0 picks an
	// ephemeral port.
	BindAddr string
	BindPort int
	// ListenAddr is the collective TCP listen address ("host:0" picks a port).
	ListenAddr string
	// Seeds are memberlist addresses ("host:port") of existing members to
	// join; empty for the first node.
	Seeds []string
	// Secret is shared by all peers. It keys memberlist encryption and the
	// HMAC handshake on ring connections. Required.
	Secret []byte

	// ChunkBytes is the pipeline unit: each ring step is cut into chunks of
	// this many bytes so that reducing one chunk overlaps sending the next.
	// All ranks must use the same value.
	ChunkBytes int
	// RecvBuffers is the number of receive buffers per ring (>= 2: double
	// buffering).
	RecvBuffers int
	// IOTimeout bounds every read and write on a ring connection. It must
	// exceed the largest expected skew between ranks entering AllReduce.
	IOTimeout time.Duration
	// DialTimeout bounds one TCP dial; HandshakeTimeout bounds the
	// authentication handshake of one connection.
	DialTimeout      time.Duration
	HandshakeTimeout time.Duration
	// MaxFrameBytes is the largest frame payload accepted; larger frames are
	// refused. Zero means ChunkBytes plus compression slack.
	MaxFrameBytes int
	// SocketBufferBytes sets SO_SNDBUF and SO_RCVBUF on ring connections
	// (0 leaves the OS default).
	SocketBufferBytes int
	// Compress sends chunks zstd-compressed (after a byte-plane shuffle) when
	// that makes them smaller. See docs/scaling.md for when it pays.
	Compress bool

	// WrapConn, if set, wraps every ring connection after the handshake
	// (rate limiting in benchmarks, byte counters, fault injection).
	WrapConn func(net.Conn) net.Conn

	// EventBuffer is the capacity of the Events channel.
	EventBuffer int
	// ReformAttemptTimeout bounds one attempt of Reform to connect the ring
	// from the current member view before it looks again.
	ReformAttemptTimeout time.Duration
	// Memberlist, if set, adjusts the memberlist configuration after this
	// package has filled it in (timeouts, probe intervals, ...).
	Memberlist func(*memberlist.Config)
	// Logger receives diagnostics; nil discards them.
	Logger *log.Logger
}

// DefaultConfig returns a configuration for loopback or LAN use: 127.0.0.1,
// ephemeral ports, one worker, 1 MiB chunks, 30 s I/O deadlines.
func DefaultConfig() *Config {
	return &Config{
		Workers:              1,
		BindAddr:             "127.0.0.1",
		ListenAddr:           "127.0.0.1:0",
		ChunkBytes:           1 << 20,
		RecvBuffers:          4,
		IOTimeout:            30 * time.Second,
		DialTimeout:          5 * time.Second,
		HandshakeTimeout:     5 * time.Second,
		SocketBufferBytes:    4 << 20,
		EventBuffer:          64,
		ReformAttemptTimeout: 5 * time.Second,
	}
}

// check validates c and fills zero values from DefaultConfig.
func (c *Config) check() error {
	d := DefaultConfig()
	if len(c.Secret) == 0 {
		return errors.New("collective: config: Secret is empty; peers must share a secret")
	}
	if c.ChunkBytes == 0 {
		c.ChunkBytes = d.ChunkBytes
	}
	if c.ChunkBytes < 4 || c.ChunkBytes%4 != 0 || c.ChunkBytes > maxChunkBytes {
		return fmt.Errorf("collective: config: ChunkBytes %d must be a multiple of 4 in [4, %d]", c.ChunkBytes, maxChunkBytes)
	}
	if c.RecvBuffers == 0 {
		c.RecvBuffers = d.RecvBuffers
	}
	if c.RecvBuffers < 2 {
		return fmt.Errorf("collective: config: RecvBuffers %d < 2", c.RecvBuffers)
	}
	if c.IOTimeout <= 0 {
		c.IOTimeout = d.IOTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = d.HandshakeTimeout
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = c.ChunkBytes + c.ChunkBytes/8 + 1024
	}
	if c.MaxFrameBytes < c.ChunkBytes {
		return fmt.Errorf("collective: config: MaxFrameBytes %d < ChunkBytes %d", c.MaxFrameBytes, c.ChunkBytes)
	}
	if c.Workers == 0 {
		c.Workers = d.Workers
	}
	if c.Workers < 0 || c.Workers > 1<<10 {
		return fmt.Errorf("collective: config: Workers %d out of range [1, 1024]", c.Workers)
	}
	if c.BindAddr == "" {
		c.BindAddr = d.BindAddr
	}
	if c.ListenAddr == "" {
		c.ListenAddr = d.ListenAddr
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = d.EventBuffer
	}
	if c.ReformAttemptTimeout <= 0 {
		c.ReformAttemptTimeout = d.ReformAttemptTimeout
	}
	return nil
}

func (c *Config) logger() *log.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return log.New(io.Discard, "", 0)
}
