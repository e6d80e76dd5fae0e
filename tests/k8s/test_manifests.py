"""Checks k8s/ as an operator would use it.

Renders every overlay, the base alone and the base with every combination of
components with `kubectl kustomize`; validates every object against the
Kubernetes 1.30 schemas with kubernetes-validate in strict mode (unknown
fields are errors); and checks Patron's policies on the rendered YAML:
containers are non-root with a read-only root and no capabilities, every
Deployment has native grpc probes and resource limits, no Secret holds a
real value, and every reference (ConfigMaps, Secrets, schedules, commands)
resolves. When the service binaries are built (target/debug), the rendered
environment of each service is also fed to the real binary, whose strict
configuration loader rejects any unknown or malformed setting.

Run with `make lint-k8s`; nothing here reaches the network.
"""

import base64
import functools
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
BINARIES = ROOT / "target" / "debug"
KUBERNETES_VERSION = "1.30.0"
# Every value of every Secret committed under k8s/ carries this marker.
DEV_MARKER = "insecure-dev-only"
MODEL_SERVICES = ("segmentation", "churn", "forecast")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        raise RuntimeError("kubectl is absent: install it (it carries kustomize) to render k8s/")
    return path


def kustomize(directory: Path) -> list:
    result = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def names(directory: Path) -> list:
    return sorted(path.name for path in directory.iterdir() if (path / "kustomization.yaml").exists())


@functools.lru_cache(maxsize=None)
def renders() -> dict:
    """Name -> rendered objects, for each overlay and each set of components on the base."""
    rendered = {f"overlays/{name}": kustomize(K8S / "overlays" / name) for name in names(K8S / "overlays")}
    components = names(K8S / "components")
    with tempfile.TemporaryDirectory() as scratch:
        for size in range(len(components) + 1):
            for chosen in itertools.combinations(components, size):
                label = "+".join(("base",) + chosen)
                directory = Path(scratch) / label
                directory.mkdir()
                # kustomize accepts only relative paths to other kustomizations.
                relative = lambda path: os.path.relpath(path, directory)  # noqa: E731
                kustomization = {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": [relative(K8S / "base")],
                    "components": [relative(K8S / "components" / name) for name in chosen],
                }
                (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
                rendered[label] = kustomize(directory)
    return rendered


def of_kind(objects: list, kind: str) -> list:
    return [document for document in objects if document.get("kind") == kind]


def named(objects: list, kind: str, name: str) -> dict:
    found = [document for document in of_kind(objects, kind) if document["metadata"]["name"] == name]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} {name}, found {len(found)}")
    return found[0]


def pod_spec(workload: dict) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return workload["spec"]["template"]["spec"]


def workloads(objects: list) -> list:
    return [document for document in objects if document.get("kind") in WORKLOADS]


def containers(spec: dict) -> list:
    return spec.get("initContainers", []) + spec["containers"]


def patron_deployments(objects: list) -> list:
    """The five services' Deployments (not the collector's or Prometheus')."""
    return [
        deployment
        for deployment in of_kind(objects, "Deployment")
        if deployment["metadata"].get("labels", {}).get("app.kubernetes.io/component") in ("gateway", "backend")
    ]


def secret_values(secret: dict) -> dict:
    values = dict(secret.get("stringData", {}))
    for key, encoded in secret.get("data", {}).items():
        values[key] = base64.b64decode(encoded).decode()
    return values


def env_references(spec: dict):
    """(kind, name, key) of every ConfigMap/Secret a pod reads; key None for whole-map envFrom."""
    for container in containers(spec):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                yield "ConfigMap", source["configMapRef"]["name"], None
            if "secretRef" in source:
                yield "Secret", source["secretRef"]["name"], None
        for variable in container.get("env", []):
            value_from = variable.get("valueFrom", {})
            if "configMapKeyRef" in value_from:
                yield "ConfigMap", value_from["configMapKeyRef"]["name"], value_from["configMapKeyRef"]["key"]
            if "secretKeyRef" in value_from:
                yield "Secret", value_from["secretKeyRef"]["name"], value_from["secretKeyRef"]["key"]
    for volume in spec.get("volumes", []):
        if "configMap" in volume:
            yield "ConfigMap", volume["configMap"]["name"], None


class Rendering(unittest.TestCase):
    def test_every_overlay_and_component_combination_renders(self):
        components = names(K8S / "components")
        self.assertEqual(components, ["monitoring", "network-policies", "postgres-dev", "tracing"])
        self.assertEqual(names(K8S / "overlays"), ["dev", "prod"])
        self.assertEqual(len(renders()), 2 + 2 ** len(components))
        for label, objects in renders().items():
            with self.subTest(render=label):
                self.assertGreater(len(objects), 30)

    def test_every_object_validates_against_kubernetes_1_30_in_strict_mode(self):
        for label, objects in renders().items():
            for document in objects:
                kind, name = document.get("kind"), document.get("metadata", {}).get("name")
                with self.subTest(render=label, object=f"{kind}/{name}"):
                    try:
                        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
                    except kubernetes_validate.ValidationError as error:
                        self.fail(f"{kind}/{name}: {error.message} at {'.'.join(map(str, error.path))}")
                    except kubernetes_validate.SchemaNotFoundError:
                        self.fail(f"{kind}/{name}: no Kubernetes {KUBERNETES_VERSION} schema for this kind")

    def test_strict_validation_rejects_an_unknown_field(self):
        # Proves the validation above can fail: a misspelt field is an error.
        deployment = dict(named(renders()["base"], "Deployment", "patron-profile"))
        deployment["spec"] = dict(deployment["spec"], replica=2)
        with self.assertRaises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


class Policies(unittest.TestCase):
    def test_every_container_is_non_root_with_a_read_only_root_and_no_capabilities(self):
        for label, objects in renders().items():
            for workload in workloads(objects):
                spec = pod_spec(workload)
                pod_context = spec.get("securityContext", {})
                for container in containers(spec):
                    with self.subTest(render=label, workload=workload["metadata"]["name"], container=container["name"]):
                        context = {**pod_context, **container.get("securityContext", {})}
                        self.assertIs(context.get("runAsNonRoot"), True)
                        self.assertNotEqual(context.get("runAsUser", 0), 0, "runAsUser must name a non-root uid")
                        self.assertIs(context.get("allowPrivilegeEscalation"), False)
                        self.assertIs(context.get("readOnlyRootFilesystem"), True)
                        self.assertEqual(context.get("capabilities", {}).get("drop"), ["ALL"])
                        self.assertNotIn("add", context.get("capabilities", {}))
                        self.assertEqual(context.get("seccompProfile", {}).get("type"), "RuntimeDefault")

    def test_every_container_has_resource_requests_and_limits(self):
        for label, objects in renders().items():
            for workload in workloads(objects):
                for container in containers(pod_spec(workload)):
                    with self.subTest(render=label, workload=workload["metadata"]["name"], container=container["name"]):
                        resources = container.get("resources", {})
                        for bound in ("requests", "limits"):
                            self.assertEqual(set(resources.get(bound, {})), {"cpu", "memory"}, bound)

    def test_every_service_deployment_has_grpc_probes_on_its_grpc_port(self):
        for label, objects in renders().items():
            deployments = patron_deployments(objects)
            self.assertEqual(len(deployments), 5, label)
            for deployment in deployments:
                container = pod_spec(deployment)["containers"][0]
                with self.subTest(render=label, deployment=deployment["metadata"]["name"]):
                    grpc_port = [port["containerPort"] for port in container["ports"] if port["name"] == "grpc"]
                    self.assertEqual(len(grpc_port), 1)
                    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                        self.assertEqual(container.get(probe, {}).get("grpc", {}).get("port"), grpc_port[0], probe)
                    self.assertEqual(set(container["resources"]["limits"]), {"cpu", "memory"})

    def test_every_service_drains_within_its_grace_period(self):
        for label, objects in renders().items():
            config = named(objects, "ConfigMap", "patron-config")["data"]
            drain_seconds = int(config["PATRON_SERVER__DRAIN_TIMEOUT_MS"]) / 1000
            for deployment in patron_deployments(objects):
                spec = pod_spec(deployment)
                container = spec["containers"][0]
                with self.subTest(render=label, deployment=deployment["metadata"]["name"]):
                    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
                    self.assertGreater(pause, 0)
                    self.assertGreater(spec["terminationGracePeriodSeconds"], pause + drain_seconds)
                    self.assertIn({"configMapRef": {"name": "patron-config"}}, container["envFrom"])
                    # Service links would inject PATRON_*_PORT variables the config loader rejects.
                    self.assertIs(spec.get("enableServiceLinks"), False)

    def test_every_stateless_service_has_an_autoscaler_and_a_disruption_budget(self):
        for label, objects in renders().items():
            autoscaled = {
                hpa["spec"]["scaleTargetRef"]["name"]
                for hpa in of_kind(objects, "HorizontalPodAutoscaler")
                if hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
            }
            budgets = {
                tuple(sorted(pdb["spec"]["selector"]["matchLabels"].items()))
                for pdb in of_kind(objects, "PodDisruptionBudget")
            }
            for deployment in patron_deployments(objects):
                name = deployment["metadata"]["name"]
                with self.subTest(render=label, deployment=name):
                    self.assertIn(name, autoscaled)
                    self.assertIn(tuple(sorted(deployment["spec"]["selector"]["matchLabels"].items())), budgets)

    def test_no_secret_holds_a_real_value(self):
        for label, objects in renders().items():
            secrets = of_kind(objects, "Secret")
            if label == "overlays/prod" or label.startswith("base"):
                self.assertEqual(secrets, [], f"{label} must only reference Secrets, never carry them")
            for secret in secrets:
                for key, value in secret_values(secret).items():
                    with self.subTest(render=label, secret=secret["metadata"]["name"], key=key):
                        self.assertIn(DEV_MARKER, value)

    def test_credentials_come_from_secrets_never_from_literal_values(self):
        sensitive = ("DATABASE__URL", "TOKEN", "PEPPER", "PASSWORD", "HASH_KEY", "API_KEYS", "SECRET")
        for label, objects in renders().items():
            for workload in workloads(objects):
                for container in containers(pod_spec(workload)):
                    for variable in container.get("env", []):
                        if any(word in variable["name"] for word in sensitive):
                            with self.subTest(render=label, container=container["name"], variable=variable["name"]):
                                self.assertNotIn("value", variable)
                                self.assertIn("secretKeyRef", variable["valueFrom"])
            for config_map in of_kind(objects, "ConfigMap"):
                for key in config_map.get("data", {}):
                    with self.subTest(render=label, config_map=config_map["metadata"]["name"], key=key):
                        self.assertFalse(any(word in key.upper() for word in sensitive), key)

    def test_every_reference_resolves(self):
        for label, objects in renders().items():
            present = {}
            for document in objects:
                if document["kind"] == "ConfigMap":
                    present[("ConfigMap", document["metadata"]["name"])] = set(document.get("data", {}))
                if document["kind"] == "Secret":
                    present[("Secret", document["metadata"]["name"])] = set(secret_values(document))
            for workload in workloads(objects):
                for kind, name, key in env_references(pod_spec(workload)):
                    if kind == "Secret" and not of_kind(objects, "Secret"):
                        continue  # Secrets are created by the operator where the render carries none.
                    with self.subTest(render=label, workload=workload["metadata"]["name"], ref=f"{kind}/{name}/{key}"):
                        self.assertIn((kind, name), present)
                        if key is not None:
                            self.assertIn(key, present[(kind, name)])

    def test_dev_secrets_cover_every_secret_the_services_read(self):
        objects = renders()["overlays/dev"]
        present = {(secret["metadata"]["name"], key) for secret in of_kind(objects, "Secret") for key in secret_values(secret)}
        for workload in workloads(renders()["overlays/prod"]):
            for kind, name, key in env_references(pod_spec(workload)):
                if kind == "Secret":
                    with self.subTest(workload=workload["metadata"]["name"], secret=f"{name}/{key}"):
                        self.assertIn((name, key), present)


class Operations(unittest.TestCase):
    def test_each_model_service_has_a_retraining_cronjob_driven_by_the_config_map(self):
        for label, objects in renders().items():
            retraining = named(objects, "ConfigMap", "patron-retraining")["data"]
            for service in MODEL_SERVICES:
                with self.subTest(render=label, service=service):
                    cronjob = named(objects, "CronJob", f"patron-train-{service}")
                    self.assertEqual(cronjob["spec"]["schedule"], retraining[f"{service}-schedule"])
                    self.assertEqual(cronjob["spec"]["concurrencyPolicy"], "Forbid")
                    container = pod_spec(cronjob)["containers"][0]
                    self.assertEqual(container["command"], ["/usr/local/bin/patron"])
                    self.assertEqual(
                        container["args"],
                        ["train", service, "--addr", "$(GATEWAY_ADDR)", "--activate-if-better", "$(METRIC)", "--param=$(PARAMS)"],
                    )
                    env = {variable["name"]: variable["valueFrom"] for variable in container["env"]}
                    self.assertEqual(env["METRIC"]["configMapKeyRef"]["key"], f"{service}-metric")
                    self.assertEqual(env["PARAMS"]["configMapKeyRef"]["key"], f"{service}-params")
                    self.assertEqual(env["PATRON_TOKEN"]["secretKeyRef"], {"name": "patron-modeler", "key": "token"})

    def test_prod_overrides_a_schedule_through_the_config_map(self):
        objects = renders()["overlays/prod"]
        self.assertEqual(named(objects, "CronJob", "patron-train-churn")["spec"]["schedule"], "30 1 * * *")

    def test_the_migration_job_migrates_every_database_the_services_use(self):
        for label, objects in renders().items():
            job = named(objects, "Job", "patron-migrate")
            migrations = {
                container["command"][0]: database_url_ref(container) for container in pod_spec(job)["containers"]
            }
            for deployment in patron_deployments(objects):
                container = pod_spec(deployment)["containers"][0]
                reference = database_url_ref(container)
                if reference is None:
                    continue  # The gateway owns no database.
                with self.subTest(render=label, deployment=deployment["metadata"]["name"]):
                    self.assertEqual(migrations.get(container["command"][0]), reference)
            for container in pod_spec(job)["containers"]:
                self.assertEqual(container["command"][1:], ["--migrate-only"])
            # README: `kubectl apply -k … -l 'app.kubernetes.io/component in (config,migration)'`
            # first; that subset must hold every ConfigMap the Job reads.
            subset = {
                (document["kind"], document["metadata"]["name"])
                for document in objects
                if document["metadata"].get("labels", {}).get("app.kubernetes.io/component") in ("config", "migration")
            }
            self.assertIn(("ServiceAccount", "patron-migrate"), subset)
            for kind, name, _ in env_references(pod_spec(job)):
                if kind == "ConfigMap":
                    with self.subTest(render=label, config_map=name):
                        self.assertIn(("ConfigMap", name), subset)


OVERLAY_COMPONENTS = {
    "overlays/dev": {"postgres-dev", "tracing", "monitoring"},
    "overlays/prod": {"network-policies", "tracing", "monitoring"},
}


def components_of(label: str) -> set:
    if label in OVERLAY_COMPONENTS:
        return OVERLAY_COMPONENTS[label]
    return set(label.split("+")[1:])


class Components(unittest.TestCase):
    def test_overlays_use_the_components_they_say(self):
        for overlay, expected in OVERLAY_COMPONENTS.items():
            kustomization = yaml.safe_load((K8S / overlay / "kustomization.yaml").read_text())
            self.assertEqual({Path(path).name for path in kustomization["components"]}, expected, overlay)

    def test_tracing_points_every_service_at_the_collector(self):
        for label, objects in renders().items():
            traced = "tracing" in components_of(label)
            for deployment in patron_deployments(objects):
                env = {variable["name"]: variable.get("value") for variable in pod_spec(deployment)["containers"][0]["env"]}
                with self.subTest(render=label, deployment=deployment["metadata"]["name"]):
                    if traced:
                        self.assertEqual(env.get("OTEL_EXPORTER_OTLP_ENDPOINT"), "http://otel-collector:4317")
                    else:
                        self.assertNotIn("OTEL_EXPORTER_OTLP_ENDPOINT", env)
            if traced:
                service = named(objects, "Service", "otel-collector")
                self.assertIn(4317, [port["port"] for port in service["spec"]["ports"]])

    def test_monitoring_scrapes_the_metrics_port_of_every_service(self):
        for label, objects in renders().items():
            if "monitoring" not in components_of(label):
                continue
            scrape = yaml.safe_load(named(objects, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"])
            relabel = scrape["scrape_configs"][0]["relabel_configs"]
            keeps = {rule["source_labels"][0]: rule["regex"] for rule in relabel if rule.get("action") == "keep"}
            self.assertEqual(keeps["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"], "patron")
            self.assertEqual(keeps["__meta_kubernetes_pod_container_port_name"], "metrics")
            for deployment in patron_deployments(objects):
                template = deployment["spec"]["template"]
                with self.subTest(render=label, deployment=deployment["metadata"]["name"]):
                    self.assertEqual(template["metadata"]["labels"]["app.kubernetes.io/part-of"], "patron")
                    ports = {port["name"]: port["containerPort"] for port in pod_spec(deployment)["containers"][0]["ports"]}
                    self.assertEqual(ports["metrics"], 9090)
                    self.assertEqual(template["metadata"]["annotations"]["prometheus.io/port"], "9090")

    def test_network_policies_open_only_the_gateway(self):
        for label, objects in renders().items():
            policies = {policy["metadata"]["name"]: policy["spec"] for policy in of_kind(objects, "NetworkPolicy")}
            if "network-policies" not in components_of(label):
                self.assertEqual(policies, {}, label)
                continue
            with self.subTest(render=label):
                deny = policies["patron-default-deny-ingress"]
                self.assertEqual(deny["podSelector"]["matchLabels"], {"app.kubernetes.io/part-of": "patron"})
                self.assertNotIn("ingress", deny)
                # Rules without `from` admit any source: only the gateway's
                # gRPC port (and the Prometheus UI of the monitoring component).
                open_to_all = {
                    name for name, spec in policies.items() for rule in spec.get("ingress", []) if "from" not in rule
                }
                self.assertEqual(open_to_all, {"patron-gateway-ingress", "patron-prometheus-ingress"})
                self.assertEqual(policies["patron-gateway-ingress"]["ingress"][0]["ports"], [{"port": "grpc", "protocol": "TCP"}])
                sources = lambda name: [peer["podSelector"]["matchLabels"] for peer in policies[name]["ingress"][0]["from"]]  # noqa: E731
                self.assertEqual(
                    sources("patron-backends-ingress"),
                    [{"app.kubernetes.io/name": "patron-gateway"}, {"app.kubernetes.io/component": "backend"}],
                )
                self.assertEqual(
                    sources("patron-database-ingress"),
                    [{"app.kubernetes.io/component": "backend"}, {"app.kubernetes.io/component": "migration"}],
                )
                # The labels those rules rely on are on the pods.
                gateway = named(objects, "Deployment", "patron-gateway")["spec"]["template"]["metadata"]["labels"]
                self.assertEqual(gateway["app.kubernetes.io/component"], "gateway")
                job = named(objects, "Job", "patron-migrate")["spec"]["template"]["metadata"]["labels"]
                self.assertEqual(job["app.kubernetes.io/component"], "migration")

    def test_dev_database_urls_name_the_databases_postgres_dev_creates(self):
        objects = renders()["overlays/dev"]
        init = named(objects, "ConfigMap", "patron-postgres-init")["data"]["databases.sql"]
        created = set(re.findall(r"CREATE DATABASE (\w+);", init))
        urls = secret_values(named(objects, "Secret", "patron-database"))
        password = secret_values(named(objects, "Secret", "patron-postgres-dev"))["password"]
        for key, url in urls.items():
            with self.subTest(key=key):
                match = re.fullmatch(r"postgres://patron:([^@]+)@patron-postgres:5432/(\w+)", url)
                self.assertIsNotNone(match, url)
                self.assertEqual(match[1], password)
                self.assertIn(match[2], created)


def database_url_ref(container: dict):
    for variable in container.get("env", []):
        if variable["name"] == "PATRON_DATABASE__URL":
            return variable["valueFrom"]["secretKeyRef"]
    return None


def rendered_environment(objects: list, container: dict) -> dict:
    """The environment Kubernetes would give the container, Secrets from the same render."""
    config_maps = {document["metadata"]["name"]: document.get("data", {}) for document in of_kind(objects, "ConfigMap")}
    secrets = {document["metadata"]["name"]: secret_values(document) for document in of_kind(objects, "Secret")}
    environment = {}
    for source in container.get("envFrom", []):
        environment.update(config_maps[source["configMapRef"]["name"]])
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        elif "configMapKeyRef" in variable["valueFrom"]:
            reference = variable["valueFrom"]["configMapKeyRef"]
            environment[variable["name"]] = config_maps[reference["name"]][reference["key"]]
        else:
            reference = variable["valueFrom"]["secretKeyRef"]
            environment[variable["name"]] = secrets[reference["name"]][reference["key"]]
    return environment


@unittest.skipUnless((BINARIES / "patron-gateway").exists(), "service binaries not built (cargo build --workspace --bins)")
class RenderedConfigurationIsAccepted(unittest.TestCase):
    """The rendered environment goes to the real binaries: a misspelt or stray PATRON_ key fails here."""

    def environment(self, name: str, scratch: str) -> dict:
        objects = renders()["overlays/dev"]
        container = pod_spec(named(objects, "Deployment", f"patron-{name}"))["containers"][0]
        environment = rendered_environment(objects, container)
        # Same keys, local values: no cluster, no collector, free ports.
        environment.pop("OTEL_EXPORTER_OTLP_ENDPOINT")
        environment["PATRON_SERVER__LISTEN_ADDR"] = "127.0.0.1:0"
        environment["PATRON_SERVER__METRICS_ADDR"] = "127.0.0.1:0"
        if "PATRON_DATABASE__URL" in environment:
            environment["PATRON_DATABASE__URL"] = f"sqlite://{scratch}/{name}.db?mode=rwc"
        environment["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        return environment

    def test_each_database_service_accepts_its_rendered_configuration(self):
        with tempfile.TemporaryDirectory() as scratch:
            for name in ("profile", "segmentation", "forecast", "churn"):
                with self.subTest(service=name):
                    result = subprocess.run(
                        [str(BINARIES / f"patron-{name}"), "--migrate-only"],
                        env=self.environment(name, scratch),
                        capture_output=True,
                        text=True,
                        timeout=60,
                        check=False,
                    )
                    self.assertEqual(result.returncode, 0, result.stderr + result.stdout)

    def test_the_gateway_starts_with_its_rendered_configuration(self):
        with tempfile.TemporaryDirectory() as scratch:
            gateway = subprocess.Popen(
                [str(BINARIES / "patron-gateway")],
                env=self.environment("gateway", scratch),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                deadline = time.monotonic() + 20
                output = []
                while time.monotonic() < deadline and gateway.poll() is None:
                    line = gateway.stdout.readline()
                    output.append(line)
                    if "serving grpc" in line:
                        break
                self.assertIsNone(gateway.poll(), "".join(output))
                self.assertTrue(any("serving grpc" in line for line in output), "".join(output))
            finally:
                gateway.send_signal(signal.SIGTERM)
                gateway.wait(timeout=30)
                gateway.stdout.close()


if __name__ == "__main__":
    unittest.main()
