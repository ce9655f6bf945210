package state

import "strings"

// Dimension is the CloudWatch dimension value that names a load balancer
// or a target group in metrics: the part of a load balancer's ARN after
// "loadbalancer/" ("app/NAME/ID", "net/NAME/ID") and the part of a target
// group's ARN from "targetgroup/" on ("targetgroup/NAME/ID"). Any other
// string is returned as it is.
func Dimension(arn string) string {
	const lb = ":loadbalancer/"
	if i := strings.Index(arn, lb); i >= 0 {
		return arn[i+len(lb):]
	}
	if i := strings.LastIndex(arn, ":targetgroup/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
