package agent

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/elbowlb/elbow/internal/devenv/container"
	"github.com/elbowlb/elbow/internal/devenv/coredns"
	"github.com/elbowlb/elbow/internal/devenv/echobasic"
)

// startFunc starts what runs in place of an image.
type startFunc func(context.Context, container.Container) (*container.Process, error)

// programFor returns the program that plays the container's image, or nil
// when the echo server serves its ports: echo-basic (the Gateway API
// conformance suite's backend) and CoreDNS (its UDPRoute backend).
func programFor(c *corev1.Container) startFunc {
	switch {
	case echobasic.IsImage(c.Image):
		return echobasic.Start
	case coredns.IsImage(c.Image):
		return coredns.Start
	}
	return nil
}
