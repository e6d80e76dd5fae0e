"""Runs each retraining CronJob's exact command line against a locally started suite.

The command, its arguments and its environment come from the rendered base
(`kubectl kustomize k8s/base`), with `$(VAR)` expanded as Kubernetes does;
only what differs between a cluster and this machine is replaced: the binary's
directory, the gateway's address (`patron up` on free ports) and the modeler
key (the admin key `patron up` made). A model service that does not serve
training yet (UNIMPLEMENTED) is reported as skipped; anything else must succeed.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from test_manifests import BINARIES, K8S, MODEL_SERVICES, kustomize, named, pod_spec, rendered_environment

SUITE_CUSTOMERS = "1000"


def free_port_base() -> int:
    """A base port whose range base..base+24 (what `patron up` uses) is free now."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base > 60000:
            continue
        try:
            for offset in range(25):
                with socket.socket() as taken:
                    taken.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range")


def expand(text: str, environment: dict) -> str:
    """Kubernetes' $(VAR) expansion in command and args."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda match: environment.get(match[1], match[0]), text)


@unittest.skipUnless((BINARIES / "patron").exists(), "binaries not built (cargo build --workspace --bins)")
class RetrainingCommandAgainstALocalSuite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory()
        cls.port = free_port_base()
        cls.data_dir = Path(cls.scratch.name) / "data"
        cls.suite = subprocess.Popen(
            [str(BINARIES / "patron"), "up", "--port", str(cls.port), "--data-dir", str(cls.data_dir)]
            + ["--demo", "--demo-customers", SUITE_CUSTOMERS],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        banner = []
        for line in cls.suite.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        if cls.suite.poll() is not None or not banner or not banner[-1].startswith("Press Ctrl-C"):
            cls.tearDownClass()
            raise AssertionError("patron up did not come up:\n" + "".join(banner))
        cls.modeler_key = (cls.data_dir / "dev-api-key").read_text().strip()
        cls.objects = kustomize(K8S / "base")

    @classmethod
    def tearDownClass(cls):
        if cls.suite.poll() is None:
            cls.suite.send_signal(signal.SIGTERM)
            try:
                cls.suite.wait(timeout=60)
            except subprocess.TimeoutExpired:
                cls.suite.kill()
                cls.suite.wait()
        cls.suite.stdout.close()
        cls.scratch.cleanup()

    def cronjob_command(self, service: str):
        container = pod_spec(named(self.objects, "CronJob", f"patron-train-{service}"))["containers"][0]
        # The base renders no Secret: the one secret it reads is the modeler key.
        objects = self.objects + [
            {"kind": "Secret", "metadata": {"name": "patron-modeler"}, "stringData": {"token": self.modeler_key}}
        ]
        environment = rendered_environment(objects, container)
        environment["GATEWAY_ADDR"] = f"http://127.0.0.1:{self.port}"
        command = [expand(part, environment) for part in container["command"] + container["args"]]
        self.assertEqual(command[0], "/usr/local/bin/patron")
        command[0] = str(BINARIES / "patron")
        environment["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        return command, environment

    def run_command(self, command, environment):
        return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600, check=False)

    def test_each_retraining_cronjob_command_trains_and_activates_only_a_better_version(self):
        for service in MODEL_SERVICES:
            with self.subTest(service=service):
                command, environment = self.cronjob_command(service)
                self.assertIn("--activate-if-better", command)
                first = self.run_command(command, environment)
                output = first.stdout + first.stderr
                if "Unimplemented" in output:
                    self.skipTest(f"{service} does not serve training yet: {output.strip()}")
                self.assertEqual(first.returncode, 0, output)
                self.assertIn("New version", output)
                # Nothing was active on a fresh suite: the first version is activated.
                self.assertIn("No version was active; activated", output)

                # Run again, as the next schedule would: now it is compared with the active one.
                second = self.run_command(command, environment)
                output = second.stdout + second.stderr
                self.assertEqual(second.returncode, 0, output)
                metric = environment["METRIC"]
                self.assertRegex(output, rf"{re.escape(metric)}: active [-0-9.]+, new [-0-9.]+")
                self.assertRegex(output, r"Activated |Kept the active version")
