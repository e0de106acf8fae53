package handler

// StackDimension is the dimension every metric carries once the Observer
// has a stack ([Observer.WithStack]): two stacks in one account and region
// then never add to each other's metrics, and so never fire each other's
// alarms.
const StackDimension = "Stack"

// WithStack returns a copy of o whose metrics all carry the dimension
// Stack=stack (the CloudFormation stack's name, PAYJS_METRICS_STACK), in
// every dimension set, before the metric's own dimension. An empty stack
// publishes them without it.
func (o *Observer) WithStack(stack string) *Observer {
	c := *o
	c.stack = stack
	return &c
}
