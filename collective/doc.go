// Package collective averages gradients across data-parallel workers: a
// pipelined ring all-reduce over authenticated TCP connections, with ranks
// and failure notices taken from a hashicorp/memberlist cluster.
//
// A [Node] joins the cluster (its collective listen address and worker count
// travel in memberlist node metadata), waits for the world with
// [Node.WaitForWorld], assigns ranks deterministically (members sorted by
// node name, then local worker index) and builds one [Ring] endpoint per
// local worker with [Node.NewRings]. When a member dies the node reports a
// [MemberEvent] on [Node.Events], aborts the rings that contained it, and
// [Node.Reform] builds a new ring, with new ranks, from the survivors.
//
// All peers share a secret: it keys memberlist's AES-256 gossip encryption
// (SHA-256 of the secret) and an HMAC-SHA256 challenge-response handshake on
// every collective TCP connection. Ring traffic is authenticated, not
// encrypted.
package collective
