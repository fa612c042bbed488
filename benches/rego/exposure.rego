package portcullis

import rego.v1

# Each cloud's annotation that keeps a load balancer on the private network.
internal_annotations := {
	"service.beta.kubernetes.io/aws-load-balancer-internal": {"true", "0.0.0.0/0"},
	"service.beta.kubernetes.io/aws-load-balancer-scheme": {"internal"},
	"service.beta.kubernetes.io/azure-load-balancer-internal": {"true"},
	"networking.gke.io/load-balancer-type": {"internal"},
	"cloud.google.com/load-balancer-type": {"internal"},
	"service.beta.kubernetes.io/oci-load-balancer-internal": {"true"},
	"oci-network-load-balancer.oraclecloud.com/internal": {"true"},
	"service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type": {"private"},
	"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": {"intranet"},
	"service.beta.kubernetes.io/openstack-internal-load-balancer": {"true"},
}

internal(obj) if {
	some key, values in internal_annotations
	lower(annotations(obj)[key]) in values
}

violation contains v if {
	some i, obj in objects
	obj.kind == "Service"
	obj.spec.type == "LoadBalancer"
	not internal(obj)
	v := {
		"rule": "service-type-loadbalancer", "index": i, "path": "/spec/type",
		"message": sprintf("%s is of type LoadBalancer: it gets its own external address; use ClusterIP behind an Ingress, or mark it internal", [display(obj)]),
	}
}

violation contains v if {
	some i, obj in objects
	obj.kind == "Service"
	obj.spec.type == "NodePort"
	v := {
		"rule": "service-type-nodeport", "index": i, "path": "/spec/type",
		"message": sprintf("%s is of type NodePort: it opens a port on every node; use ClusterIP behind an Ingress", [display(obj)]),
	}
}

ip_allowed(ip) if {
	some cidr in allowed_cidrs
	net.cidr_contains(cidr, ip)
}

violation contains v if {
	some i, obj in objects
	obj.kind == "Service"
	some j, ip in obj.spec.externalIPs
	not ip_allowed(ip)
	v := {
		"rule": "service-external-ips", "index": i, "path": sprintf("/spec/externalIPs/%d", [j]),
		"message": sprintf("%s claims external IP %s outside the allowed ranges (CVE-2020-8554)", [display(obj), ip]),
	}
}

workload_kinds := {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController", "Job"}

pod_spec(obj) := [obj.spec, "/spec"] if obj.kind == "Pod"

pod_spec(obj) := [obj.spec.template.spec, "/spec/template/spec"] if obj.kind in workload_kinds

pod_spec(obj) := [obj.spec.jobTemplate.spec.template.spec, "/spec/jobTemplate/spec/template/spec"] if obj.kind == "CronJob"

violation contains v if {
	some i, obj in objects
	[spec, at] := pod_spec(obj)
	spec.hostNetwork == true
	v := {
		"rule": "workload-host-network", "index": i, "path": concat("", [at, "/hostNetwork"]),
		"message": sprintf("%s runs on the host network: it can reach every node service and bypasses NetworkPolicy", [display(obj)]),
	}
}

host_port_allowed(port) if {
	some r in allowed_host_ports
	port >= r.min
	port <= r.max
}

violation contains v if {
	some i, obj in objects
	[spec, at] := pod_spec(obj)
	some list in ["initContainers", "containers", "ephemeralContainers"]
	some j, c in spec[list]
	some k, p in c.ports
	p.hostPort > 0
	not host_port_allowed(p.hostPort)
	v := {
		"rule": "workload-host-port", "index": i,
		"path": sprintf("%s/%s/%d/ports/%d/hostPort", [at, list, j, k]),
		"message": sprintf("%s: container %s binds host port %d, exposed on the node's address", [display(obj), c.name, p.hostPort]),
	}
}
