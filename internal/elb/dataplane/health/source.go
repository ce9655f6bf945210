package health

// Source is the health of targets as the checker reports it, for the
// ELBv2 service (DescribeTargetHealth) and the data planes (which targets
// may receive traffic). *Checker is the Source of the local ELB. Neither
// method blocks: the data planes call them for every connection or
// request.
type Source interface {
	// Status returns the health of a registered target, as
	// DescribeTargetHealth reports it.
	Status(tgARN, targetID string, port int32) Status
	// Group returns the current picture of a target group's targets and
	// their health, nil when the checker does not hold the group.
	Group(tgARN string) *Group
}

// Notifier is a Source that announces changes, as *Checker does: a data
// plane that finds it refreshes what it derives from the pictures (host
// counts) at once instead of on its next state change.
type Notifier interface {
	Source
	// Subscribe returns a channel that receives a value after a target
	// group's picture changes; cancel stops the subscription.
	Subscribe() (changes <-chan struct{}, cancel func())
}

var _ Notifier = (*Checker)(nil)
