package collective_test

import (
	"context"
	"log"
	"time"

	"github.com/lens-go/lens/collective"
)

// Example shows the calls a data-parallel trainer makes: join, wait for the
// world, build the ring, average gradients every step, and on a failure
// re-form from the survivors and resume from the last checkpoint.
func Example() {
	cfg := collective.DefaultConfig()
	cfg.NodeName = "worker-a"                  // unique; ranks follow name order
	cfg.Secret = []byte("from a secret store") // same on every node
	cfg.Seeds = []string{"127.0.0.1:7946"}     // any existing member
	cfg.IOTimeout = 30 * time.Second

	node, err := collective.NewNode(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer node.Leave(time.Second)
	ctx := context.Background()
	if err := node.Join(ctx); err != nil {
		log.Fatal(err)
	}
	world, err := node.WaitForWorld(ctx, 4) // 4 member processes
	if err != nil {
		log.Fatal(err)
	}
	rings, err := node.NewRings(ctx, world) // one per local worker
	if err != nil {
		log.Fatal(err)
	}
	grads := make([]float32, 1<<20)
	for step := 0; step < 1000; step++ {
		// ... forward/backward into grads ...
		err := rings[0].AllReduce(ctx, grads, collective.Mean)
		if err != nil {
			// A member died (errors.Is(err, collective.ErrMemberLost); also
			// reported on node.Events()) or a neighbour timed out. Drop
			// this step, re-form with new ranks, reload the last checkpoint.
			world, rings, err = node.Reform(ctx)
			if err != nil {
				log.Fatal(err)
			}
			_ = world.Size() // new data-parallel world size for the sampler
			// step = loadCheckpoint(...)
			continue
		}
		// ... optimizer step ...
	}
}
