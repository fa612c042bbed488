package portcullis

import rego.v1

tls(obj) := t if {
	t := obj.spec.tls
} else := []

violation contains v if {
	some i, obj in objects
	obj.kind == "Ingress"
	count(tls(obj)) == 0
	v := {
		"rule": "ingress-tls-missing", "index": i, "path": "/spec",
		"message": sprintf("%s has no TLS: traffic and credentials cross the network in clear text", [display(obj)]),
	}
}

# A TLS host covers a rule host exactly, or as a wildcard of one label.
covers(tls_host, host) if tls_host == host

covers(tls_host, host) if {
	startswith(tls_host, "*.")
	suffix := trim_prefix(tls_host, "*")
	endswith(host, suffix)
	label := trim_suffix(host, suffix)
	label != ""
	not contains(label, ".")
}

covered(obj, host) if {
	some entry in tls(obj)
	some h in entry.hosts
	covers(h, host)
}

violation contains v if {
	some i, obj in objects
	obj.kind == "Ingress"
	count(tls(obj)) > 0
	some j, rule in obj.spec.rules
	not covered(obj, rule.host)
	v := {
		"rule": "ingress-host-without-tls", "index": i, "path": sprintf("/spec/rules/%d/host", [j]),
		"message": sprintf("%s serves %s without a TLS entry for it", [display(obj), rule.host]),
	}
}

auth_annotations := {
	"nginx.ingress.kubernetes.io/auth-url",
	"nginx.ingress.kubernetes.io/auth-type",
	"nginx.ingress.kubernetes.io/auth-tls-verify-client",
	"traefik.ingress.kubernetes.io/router.middlewares",
}

authenticated(obj) if {
	some key in auth_annotations
	annotations(obj)[key]
}

public(obj) if annotations(obj)["portcullis.dev/public"]

violation contains v if {
	some i, obj in objects
	obj.kind == "Ingress"
	not authenticated(obj)
	not public(obj)
	v := {
		"rule": "ingress-auth-missing", "index": i, "path": "/metadata/annotations",
		"message": sprintf("%s has no authentication in front of it; add auth or mark it public with a reason", [display(obj)]),
	}
}

violation contains v if {
	some i, obj in objects
	obj.kind == "Ingress"
	some key, _ in annotations(obj)
	startswith(key, "nginx.ingress.kubernetes.io/")
	endswith(key, "-snippet")
	v := {
		"rule": "ingress-snippet-annotation", "index": i, "path": concat("", ["/metadata/annotations/", replace(key, "/", "~1")]),
		"message": sprintf("%s sets %s: raw NGINX configuration can read the controller's secrets (CVE-2021-25742)", [display(obj), key]),
	}
}

violation contains v if {
	some i, obj in objects
	obj.kind == "Ingress"
	some j, rule in obj.spec.rules
	startswith(rule.host, "*")
	v := {
		"rule": "ingress-host-wildcard", "index": i, "path": sprintf("/spec/rules/%d/host", [j]),
		"message": sprintf("%s claims the wildcard host %s: every name under it reaches this backend", [display(obj), rule.host]),
	}
}
