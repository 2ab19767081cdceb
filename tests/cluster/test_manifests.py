"""The cluster files agree with the code: infra/docker/Dockerfile, the KubeRay RayJob/RayCluster and the
training Job in infra/, and the commands of docs/cluster.md. Their YAML parses and has the fields KubeRay and
Kubernetes need; their images name the Dockerfile's targets; and every command names an entry point that
exists with flags its parser accepts (pipelines/render_corpus.py's argparse, composer's launcher) and
key=value overrides the trainer's (or fine-tuner's) config accepts, so renaming a flag or a key fails here.
No cluster and no docker daemon are needed (nothing is built or applied)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKERFILE = os.path.join(REPO, "infra", "docker", "Dockerfile")
RAYJOB = os.path.join(REPO, "infra", "kuberay", "rayjob-render.yaml")
RAYCLUSTER = os.path.join(REPO, "infra", "kuberay", "raycluster-render.yaml")
TRAIN_JOB = os.path.join(REPO, "infra", "k8s", "train-job.yaml")
RUNBOOK = os.path.join(REPO, "docs", "cluster.md")
IMAGE = "ghcr.io/example/pixelgpt"  # :<Dockerfile target>
# Shell variables the runbook's commands use, with example values to check them with.
RUNBOOK_VARS = {
    "HEAD": "10.0.0.1",
    "NODES": "4",
    "NODE_RANK": "0",
    "RUN": "dualgpt-paper",
    "BUCKET": "pixelgpt",
}


def load_yaml(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def pod_specs(doc: dict) -> list[dict]:
    """Every pod spec of a RayJob, RayCluster or Job."""
    spec = doc["spec"]
    if doc["kind"] == "RayJob":
        spec = spec["rayClusterSpec"]
    if doc["kind"] in ("RayJob", "RayCluster"):
        groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
        return [g["template"]["spec"] for g in groups]
    return [spec["template"]["spec"]]


def dockerfile_targets() -> list[str]:
    with open(DOCKERFILE, encoding="utf-8") as f:
        return re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", f.read(), re.M | re.I)


def load_script(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def composer_flags() -> set[str]:
    """The option strings of composer's launcher parser, read from its source (importing composer takes
    ~12 s): every string starting with '-' passed to add_argument in composer/cli/launcher.py."""
    path = os.path.join(os.path.dirname(importlib.util.find_spec("composer").origin), "cli", "launcher.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    flags = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            flags |= {
                a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("-")
            }
    assert {"--nproc", "--world_size", "--node_rank", "--master_addr"} <= flags  # the parse found the parser
    return flags


# ------------------------------------------------------------------------------------------------ checks


def split_launcher(argv: list[str], flags: set[str]) -> tuple[dict, list[str]]:
    """`composer [launcher flags] SCRIPT ARGS...` -> ({flag: value}, [SCRIPT, ARGS...]); every flag must be
    one of the launcher's."""
    assert argv[0] == "composer", argv
    launcher: dict = {}
    i = 1
    while argv[i].startswith("-"):
        flag, _, value = argv[i].partition("=")
        assert flag in flags, f"composer has no flag {flag}: {shlex.join(argv)}"
        if not value and flag not in ("-v", "--verbose", "-m", "--module_mode", "-c", "--command_mode"):
            i += 1
            value = argv[i]
        launcher[flag] = value
        i += 1
    return launcher, argv[i:]


def check_render_command(argv: list[str]) -> object:
    """`python pipelines/render_corpus.py FLAGS...`: the parser takes every flag and the job config is valid
    (the tokenizer, supplied at image build time, is checked as 'byte'). Returns the parsed args."""
    assert argv[:2] == ["python", "pipelines/render_corpus.py"], argv
    cli = load_script("pipelines/render_corpus.py", "render_corpus_cli")
    try:
        args = cli.parse_args(argv[2:])
    except SystemExit:
        pytest.fail(f"render_corpus.py rejects the flags of: {shlex.join(argv)}")
    if args.tokenizer and not os.path.exists(os.path.join(REPO, args.tokenizer)):
        args.tokenizer = "byte"
    cli.build_config(args)
    return args


def check_run_command(argv: list[str], flags: set[str]) -> dict:
    """`python|composer [launcher flags] packages/{train,finetune}/run.py CONFIG KEY=VALUE...`: the launcher
    knows each flag, and the trainer's (or fine-tuner's) config takes the YAML with the overrides (an unknown
    key or a bad value raises). Returns {launcher flag: value, "cfg": the config}."""
    if argv[0] == "python":
        launcher, rest = {}, argv[1:]
    else:
        launcher, rest = split_launcher(argv, flags)
    script, config, overrides = rest[0], rest[1], rest[2:]
    if script == "packages/train/run.py":
        from pixelgpt.train.config import load_config
    elif script == "packages/finetune/run.py":
        from pixelgpt.finetune.config import load_config
    else:
        raise AssertionError(f"unknown entry point {script}: {shlex.join(argv)}")
    assert os.path.isfile(os.path.join(REPO, script)) and os.path.isfile(os.path.join(REPO, config)), argv
    assert all("=" in o for o in overrides), overrides
    launcher["cfg"] = load_config(os.path.join(REPO, config), overrides)
    return launcher


# ------------------------------------------------------------------------------------------------ tests


def test_dockerfile_has_the_two_targets_and_installs_through_make_setup():
    assert dockerfile_targets() == ["setup", "render", "train"]
    with open(DOCKERFILE, encoding="utf-8") as f:
        text = "\n".join(line for line in f.read().splitlines() if not line.lstrip().startswith("#"))
    assert re.search(r"^RUN make setup\b", text, re.M)  # the Makefile's packages, not a second list
    assert "uv sync" not in text and "pip install" not in text and "uv pip" not in text
    assert re.search(r"^FROM \$\{DEBIAN_IMAGE\} AS setup", text, re.M)  # the fonts the renderer pins
    assert os.path.isfile(DOCKERFILE + ".dockerignore")


def test_kuberay_manifests_are_complete_and_name_the_render_image():
    docs = load_yaml(RAYJOB) + load_yaml(RAYCLUSTER)
    assert [d["kind"] for d in docs] == ["RayJob", "RayCluster"]
    for doc in docs:
        assert doc["apiVersion"] == "ray.io/v1" and doc["metadata"]["name"]
        spec = doc["spec"]["rayClusterSpec"] if doc["kind"] == "RayJob" else doc["spec"]
        assert spec["rayVersion"] == ray_version()
        assert spec["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"
        for group in spec["workerGroupSpecs"]:
            assert group["groupName"] and group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        for pod in pod_specs(doc):
            (container,) = pod["containers"]
            assert container["image"] == f"{IMAGE}:render"
            assert container["workingDir"] == "/app"  # where the Dockerfile put the repo
            env = {e["name"] for e in container["env"]}
            assert {"S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "RAY_AUTH_MODE"} <= env
            assert container["resources"]["limits"]["cpu"]
    rayjob = docs[0]
    assert rayjob["spec"]["shutdownAfterJobFinishes"] is True
    args = check_render_command(shlex.split(rayjob["spec"]["entrypoint"]))
    groups = rayjob["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    cpus = [int(g["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"]) for g in groups]
    workers = sum(int(g["replicas"]) * c for g, c in zip(groups, cpus))
    assert args.workers == workers  # one renderer actor per worker CPU


def test_rayjob_renders_what_the_paper_config_trains_on():
    from pixelgpt.train.config import load_config

    args = check_render_command(shlex.split(load_yaml(RAYJOB)[0]["spec"]["entrypoint"]))
    cfg = load_config(os.path.join(REPO, "yamls", "dualgpt.yaml"))
    assert args.output in [s.path for s in cfg.data.shards]
    assert args.max_patches == cfg.data.max_patches and args.max_tokens == cfg.data.max_tokens
    rendered = shlex.split(load_yaml(RAYJOB)[0]["spec"]["entrypoint"])
    assert rendered[rendered.index("--tokenizer") + 1] == cfg.data.tokenizer


def test_training_job_is_an_indexed_job_whose_command_the_launcher_and_trainer_accept():
    service, job, claim = load_yaml(TRAIN_JOB)
    assert (service["kind"], job["kind"], claim["kind"]) == ("Service", "Job", "PersistentVolumeClaim")
    assert service["apiVersion"] == "v1" and job["apiVersion"] == "batch/v1"
    spec = job["spec"]
    nodes = spec["completions"]
    assert spec["completionMode"] == "Indexed" and spec["parallelism"] == nodes
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["selector"].items() <= labels.items()
    assert pod["subdomain"] == service["metadata"]["name"] and pod["restartPolicy"] == "OnFailure"
    (container,) = pod["containers"]
    assert container["image"] == f"{IMAGE}:train"
    gpus = int(container["resources"]["limits"]["nvidia.com/gpu"])
    assert container["command"] == ["bash", "-c"]
    script = container["args"][0].replace('"$JOB_COMPLETION_INDEX"', "0")
    argv = shlex.split(script)
    assert argv[0] == "exec"
    launch = check_run_command(argv[1:], composer_flags())
    cfg = launch.pop("cfg")
    assert int(launch["--nproc"]) == gpus and int(launch["--world_size"]) == nodes * gpus
    assert launch["--master_addr"] == f"{job['metadata']['name']}-0.{service['metadata']['name']}"
    assert int(launch["--master_port"]) in [p["port"] for p in service["spec"]["ports"]]
    assert cfg.fsdp.enabled and cfg.fsdp.replicate == nodes  # HSDP: sharded within a node
    assert cfg.data.num_canonical_nodes % nodes == 0  # streaming's partitioning needs it
    assert cfg.global_batch_size % (nodes * gpus) == 0
    assert cfg.save_folder.startswith("s3://")  # relaunched pods resume from the bucket
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/dev/shm" in mounts and cfg.output_dir.startswith("/runs/") and "/runs" in mounts


def runbook_commands() -> list[list[str]]:
    """The commands of docs/cluster.md's bash blocks (continuation lines joined, variables filled in)."""
    with open(RUNBOOK, encoding="utf-8") as f:
        blocks = re.findall(r"```bash\n(.*?)```", f.read(), re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            for name in re.findall(r"\$\{?(\w+)\}?", line):
                assert name in RUNBOOK_VARS, f"docs/cluster.md uses ${name}; give it a value in RUNBOOK_VARS"
            line = re.sub(r"\$\{?(\w+)\}?", lambda m: RUNBOOK_VARS[m.group(1)], line)
            commands.append(shlex.split(line))
    return commands


def test_runbook_commands_use_flags_and_keys_the_code_accepts():
    commands = runbook_commands()
    assert commands, "docs/cluster.md has no ```bash blocks"
    flags = composer_flags()
    seen = set()
    for argv in commands:
        for at, word in enumerate(argv):
            if word == "pipelines/render_corpus.py":
                check_render_command(argv[at - 1 :])
                seen.add("render")
            elif word in ("packages/train/run.py", "packages/finetune/run.py"):
                start = at - 1 if argv[at - 1] == "python" else argv.index("composer")
                check_run_command(argv[start:], flags)
                seen.add(word.split("/")[1])
        if argv[:2] == ["docker", "build"]:
            target = argv[argv.index("--target") + 1]
            assert target in dockerfile_targets() and argv[argv.index("-t") + 1] == f"{IMAGE}:{target}"
            seen.add("docker")
        for path in [a for a in argv if a.startswith(("infra/", "yamls/", "packages/", "pipelines/"))]:
            assert os.path.exists(os.path.join(REPO, path)), f"docs/cluster.md names {path}: not there"
    assert seen == {"render", "train", "finetune", "docker"}


def test_a_renamed_flag_or_key_fails_the_checks():
    """The checks above would catch a manifest or runbook that drifted from the code."""
    with pytest.raises(pytest.fail.Exception, match="rejects the flags"):
        check_render_command(
            ["python", "pipelines/render_corpus.py", "--input", "c4=x", "--num-workers", "2"]
        )
    from pixelgpt.train.config import ConfigError

    with pytest.raises(ConfigError, match="fsdp.replicas"):
        check_run_command(["composer", "--nproc", "8", "packages/train/run.py", "yamls/dualgpt.yaml",
                           "fsdp.replicas=4"], composer_flags())  # fmt: skip
    with pytest.raises(AssertionError, match="no flag --nprocs"):
        check_run_command(["composer", "--nprocs", "8", "packages/train/run.py", "yamls/dualgpt.yaml"],
                          composer_flags())  # fmt: skip


def ray_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("ray")
