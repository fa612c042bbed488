# The Rego twin of portcullis's exposure and ingress rules, written the way a
# Gatekeeper or OPA user would: one package, a set of violations. It exists
# to measure the interpreter cost of the same semantics, not to replace them.
package portcullis

import rego.v1

# What is reviewed: the admission request's object, or every item of a List.
objects := [input.request.object] if input.request.object

objects := input.items if input.items

namespace(obj) := ns if {
	ns := obj.metadata.namespace
} else := "default"

display(obj) := sprintf("%s %s/%s", [obj.kind, namespace(obj), obj.metadata.name])

annotations(obj) := a if {
	a := obj.metadata.annotations
} else := {}

# Parameters, as a Gatekeeper constraint would pass them; none by default.
default allowed_cidrs := []

allowed_cidrs := input.parameters.allowedCidrs

default allowed_host_ports := []

allowed_host_ports := input.parameters.allowedHostPorts
