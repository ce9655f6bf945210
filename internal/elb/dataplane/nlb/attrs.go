package nlb

import "time"

// udpIdleTimeout is the idle timeout of UDP flows, which AWS documents as
// fixed (120 seconds); the attributes the plane reads are in package
// settings.
const udpIdleTimeout = 120 * time.Second
