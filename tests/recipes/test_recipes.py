"""The GPU recipes in ``recipes/``, checked on CPU against the installed verl without training anything.

Each recipe runs with ``DRY_RUN=1``; the printed command is re-read by bash (as a user pasting it would), and its
``--config-path`` / ``--config-name`` / overrides are composed with hydra exactly as the trainer's ``@hydra.main``
would. The composed config then goes through what verl does with it before training: ``validate_config`` and the
dataclass conversions of ``main_ppo`` / ``sft_trainer``, every ``_target_`` / ``pkg://`` / tool ``class_name``
imported, the registries the names point into, the datasets built from the ``data`` section, and verl-pixel's
replay buffer constructed as verl constructs a custom sampler (it checks the DAPO hand-back). A recipe that drifts
from verl (an unknown key, a bad target, a renamed option) fails here.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from omegaconf import DictConfig, OmegaConf

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"
GRPO_RECIPES = ("grpo_adaptive", "grpo_curiosity", "grpo_deepeyes")
SFT_RECIPE = "sft_qwen25vl7b"
SFT_RECIPES = {SFT_RECIPE: "qwen2_5_vl", "sft_qwen3vl8b": "qwen3_vl"}  # recipe -> its model family
ALL_RECIPES = (*GRPO_RECIPES, *SFT_RECIPES)
TEMPLATE_NAMES = {"qwen2_5_vl": "qwen2_5_vl_tools.jinja", "qwen3_vl": "qwen3_vl_tools.jinja"}
# Per family: the side of a visual token in pixels and the vision patch (data.image_patch_size).
FACTOR_AND_PATCH = {"qwen2_5_vl": (28, 14), "qwen3_vl": (32, 16)}

# Keys a recipe may add to verl's schema, and why each is not drift. Below a key that verl leaves empty or null
# (override_config: {}, sampler_kwargs: {}, custom_cls.path: null) anything goes: that content is validated by
# whoever reads it; verl-pixel's own ``pixel`` section is checked by its parsers in the tests below.
ALLOWED_ADDITIONS = {
    "data.max_pixels": "read by PixelRLDataset (model-view budget)",
    "data.pixel_rollout": "read by PixelRLDataset (the length filter's margin for the mode instructions)",
    "actor_rollout_ref.rollout.limit_images": "a RolloutConfig field that verl's rollout.yaml leaves out",
}
OWN_SECTIONS = ("pixel.",)


# ----------------------------------------------------------------------------------------------------- helpers


@dataclasses.dataclass
class Launch:
    """A recipe's dry run: the argv it would exec and the hydra pieces inside it."""

    argv: list[str]
    entry_module: str
    config_path: str
    config_name: str
    overrides: list[str]
    output_dir: Path


def recipe_env(tmp_path: Path, model_dir: Path, train: Path, val: Path | None, **extra: str) -> dict[str, str]:
    # The suite runs under VERL_PLATFORM=cpu (conftest), which a GPU recipe refuses: a user's shell would not have it.
    base = {key: value for key, value in os.environ.items() if key != "VERL_PLATFORM"}
    env = {
        **base,
        "DRY_RUN": "1",
        "PYTHON": sys.executable,
        "MODEL_PATH": str(model_dir),
        "TRAIN_FILES": str(train),
        "OUTPUT_DIR": str(tmp_path / "run"),
        **extra,
    }
    if val is not None:
        env["VAL_FILES"] = str(val)
    return env


def run_recipe(recipe: str, env: Mapping[str, str], args: Sequence[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(RECIPES / f"{recipe}.sh"), *args], env=dict(env), capture_output=True, text=True, timeout=120
    )


def reparse(command_text: str) -> list[str]:
    """The argv bash makes of the printed command (what a user pasting it runs)."""
    out = subprocess.run(
        ["bash", "-c", 'eval "set -- $1"; printf "%s\\0" "$@"', "reparse", command_text],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return out.decode().split("\0")[:-1]


def parse_launch(argv: list[str], output_dir: Path) -> Launch:
    """Split ``python [-m launcher ...] -m verl.trainer.X --config-path=.. --config-name=.. overrides``."""
    module_at = max(i for i, arg in enumerate(argv[:-1]) if arg == "-m" and argv[i + 1].startswith("verl.trainer."))
    hydra_args = argv[module_at + 2 :]
    options = {arg.split("=", 1)[0]: arg.split("=", 1)[1] for arg in hydra_args if arg.startswith("--")}
    overrides = [arg for arg in hydra_args if not arg.startswith("--")]
    return Launch(argv, argv[module_at + 1], options["--config-path"], options["--config-name"], overrides, output_dir)


def dry_run(recipe: str, env: Mapping[str, str], args: Sequence[str] = ()) -> Launch:
    proc = run_recipe(recipe, env, args)
    assert proc.returncode == 0, proc.stderr
    return parse_launch(reparse(proc.stdout), Path(env["OUTPUT_DIR"]))


def compose(launch: Launch, return_hydra_config: bool = False) -> DictConfig:
    """Compose as ``@hydra.main`` does with ``--config-path`` / ``--config-name`` and the overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=launch.config_path, version_base=None):
        return hydra_compose(
            config_name=launch.config_name, overrides=launch.overrides, return_hydra_config=return_hydra_config
        )


def compose_base(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from verl_pixel.testing.agent_harness import verl_config_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
        return hydra_compose(config_name=config_name, overrides=list(overrides))


def leaf_keys(node: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of the leaves of a plain container; an empty mapping counts as a leaf."""
    if isinstance(node, Mapping) and node:
        for key, value in node.items():
            yield from leaf_keys(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1]


def plain(config: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(config, resolve=False, throw_on_missing=False)


def added_keys(config: DictConfig, base: DictConfig) -> set[str]:
    """Leaf keys of ``config`` (unresolved) that verl's own config does not have, nor a leaf above them."""
    known = set(leaf_keys(plain(base)))

    def is_known(key: str) -> bool:
        parts = key.split(".")
        return any(".".join(parts[:i]) in known for i in range(1, len(parts) + 1))

    return {key for key in leaf_keys(plain(config)) if not is_known(key) and not key.startswith(OWN_SECTIONS)}


def values_under(node: Any, key: str, path: str = "") -> Iterator[tuple[str, Any, Mapping]]:
    """Every ``(path, value, parent)`` whose key is ``key``, in a plain container."""
    if isinstance(node, Mapping):
        for name, value in node.items():
            child = f"{path}.{name}" if path else str(name)
            if name == key:
                yield child, value, node
            yield from values_under(value, key, child)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from values_under(value, key, f"{path}[{i}]")


def import_target(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def resolve_references(config: DictConfig) -> dict[str, Any]:
    """Import every ``_target_``, load every ``pkg://`` reference; returns what each path resolved to."""
    from verl.utils.import_utils import load_extern_object

    tree = plain(config)
    resolved: dict[str, Any] = {}
    for path, target, _ in values_under(tree, "_target_"):
        if target:  # verl's dataclass defaults carry an empty _target_
            resolved[path] = import_target(target)
    for path, value, parent in values_under(tree, "path"):
        if isinstance(value, str) and value.startswith("pkg://"):
            resolved[path] = load_extern_object(value, parent["name"])
    return resolved


def template_text(family: str = "qwen2_5_vl") -> str:
    from verl_pixel.configs import read_chat_template

    return read_chat_template(TEMPLATE_NAMES[family])


class FakeTrainer:
    """What a custom replay buffer can reach through verl's ``refill_fn``: the bound method's ``__self__.config``."""

    def __init__(self, config: DictConfig) -> None:
        self.config = config

    def _add_prompts_to_generate(self, count: int) -> None:  # the name verl 0.9.1 passes
        raise AssertionError("no prompts are generated in a config test")


def build_replay_buffer(config: DictConfig) -> Any:
    """The sampler as ``PPOTrainer._build_replay_buffer`` builds a custom one (verl 0.9.1)."""
    from verl.utils.import_utils import load_extern_type

    sampler = config.trainer.v1.sampler
    mode = config.trainer.v1.trainer_mode
    cls = load_extern_type(sampler.custom_sampler.path, sampler.custom_sampler.name)
    return cls(
        trainer_mode=mode,
        trainer_config=config.trainer.v1.get(mode, {}),
        max_off_policy_threshold=sampler.max_off_policy_threshold,
        max_off_policy_strategy=sampler.max_off_policy_strategy,
        sampler_kwargs=sampler.sampler_kwargs,
        refill_fn=FakeTrainer(config)._add_prompts_to_generate,
    )


@dataclasses.dataclass
class Checked:
    """A composed recipe config after verl's own pre-training steps."""

    config: DictConfig
    converted: dict[str, Any]
    references: dict[str, Any]


def check_main_ppo(launch: Launch) -> Checked:
    """What ``main_ppo`` (V1) does with the config before training, minus Ray and GPUs."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config

    config = compose(launch)
    use_ref, use_critic = need_reference_policy(config), need_critic(config)
    validate_config(config=config, use_reference_policy=use_ref, use_critic=use_critic)
    OmegaConf.resolve(config)  # TaskRunnerV1.run
    arr = config.actor_rollout_ref
    converted = {
        "actor": omega_conf_to_dataclass(arr.actor),  # engine workers
        "rollout": omega_conf_to_dataclass(arr.rollout),  # engine workers, agent loop, replicas
        "model": omega_conf_to_dataclass(arr.model),  # trainer tokenizer, engine workers, agent loop
        "checkpoint_engine": omega_conf_to_dataclass(arr.rollout.checkpoint_engine),  # trainer
        "algorithm": omega_conf_to_dataclass(config.algorithm),  # AlgoConfig (its _target_ is in ppo_trainer.yaml)
    }
    if use_ref:
        converted["ref"] = omega_conf_to_dataclass(arr.ref)
    if use_critic:
        converted["critic"] = omega_conf_to_dataclass(config.critic)
    return Checked(config, converted, resolve_references(config))


def check_sft(launch: Launch) -> Checked:
    """What ``SFTTrainer._build_config`` converts, plus the profiler-interval check."""
    from verl.utils.config import omega_conf_to_dataclass

    config = compose(launch)
    converted = {name: omega_conf_to_dataclass(config[name]) for name in ("model", "engine", "optim", "checkpoint")}
    converted["profiler"] = omega_conf_to_dataclass(config.profiler)
    start, end = config.trainer.profile_interval
    assert end >= start
    return Checked(config, converted, resolve_references(config))


# ---------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rl_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from verl_pixel.quickstart.grpo_cpu import write_rl_sample

    return write_rl_sample(tmp_path_factory.mktemp("rl_data"), n_train=2, n_val=1)


@pytest.fixture(scope="module")
def sft_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from verl_pixel.testing.sft_sample import write_sft_sample

    folder = tmp_path_factory.mktemp("sft_data")
    return (
        write_sft_sample(folder / "train.parquet", n_rows=4, seed=0),
        write_sft_sample(folder / "val.parquet", n_rows=2, seed=1),
    )


@pytest.fixture(scope="module")
def grpo_env(tmp_path_factory, tiny_model_of, rl_data):
    """``grpo_env(family="qwen2_5_vl", **extra)``: a GRPO recipe's environment with that family's tiny model."""

    def make(family: str = "qwen2_5_vl", **extra: str) -> dict[str, str]:
        return recipe_env(tmp_path_factory.mktemp("grpo"), tiny_model_of(family), *rl_data, **extra)

    return make


@pytest.fixture(scope="module")
def sft_env(tmp_path_factory, tiny_model_of, sft_data):
    """``sft_env(recipe=SFT_RECIPE, **extra)``: an SFT recipe's environment with the tiny model of its family."""

    def make(recipe: str = SFT_RECIPE, **extra: str) -> dict[str, str]:
        return recipe_env(tmp_path_factory.mktemp("sft"), tiny_model_of(SFT_RECIPES[recipe]), *sft_data, **extra)

    return make


def env_for(recipe: str, grpo_env, sft_env) -> dict[str, str]:
    return sft_env(recipe) if recipe in SFT_RECIPES else grpo_env()


class CheckedRecipes(dict):
    """(recipe, family) -> (launch, checked), computed on first use so a broken recipe fails only its own tests.

    A plain recipe name stands for the Qwen2.5-VL family.
    """

    def __init__(self, make_env) -> None:
        super().__init__()
        self.make_env = make_env

    def __missing__(self, key: str | tuple[str, str]) -> tuple[Launch, Checked]:
        recipe, family = (key, "qwen2_5_vl") if isinstance(key, str) else key
        launch = dry_run(recipe, self.make_env(family))
        self[key] = (launch, check_main_ppo(launch))
        return self[key]


@pytest.fixture(scope="module")
def checked_grpo(grpo_env) -> CheckedRecipes:
    return CheckedRecipes(grpo_env)


@pytest.fixture(scope="module", params=list(SFT_RECIPES))
def checked_sft(request, sft_env) -> tuple[Launch, Checked]:
    """Each SFT recipe, dry-run and checked (the test reads its family from SFT_RECIPES[launch.config_name])."""
    launch = dry_run(request.param, sft_env(request.param))
    return launch, check_sft(launch)


# ------------------------------------------------------------------------------------------------- dry runs


@pytest.mark.parametrize("recipe", ALL_RECIPES)
def test_dry_run_prints_the_trainer_command_and_passes_extra_overrides_last(recipe, grpo_env, sft_env):
    env = env_for(recipe, grpo_env, sft_env)
    proc = run_recipe(recipe, env, ["trainer.total_training_steps=7"])
    assert proc.returncode == 0, proc.stderr
    argv = reparse(proc.stdout)
    launch = parse_launch(argv, Path(env["OUTPUT_DIR"]))
    assert argv[0] == sys.executable
    assert launch.entry_module == ("verl.trainer.sft_trainer" if recipe in SFT_RECIPES else "verl.trainer.main_ppo")
    assert Path(launch.config_path) == RECIPES / "configs"  # resolved from the recipe's own folder, not the CWD
    assert (RECIPES / "configs" / f"{launch.config_name}.yaml").is_file()
    assert launch.overrides[-1] == "trainer.total_training_steps=7"
    assert compose(launch).trainer.total_training_steps == 7
    if recipe in SFT_RECIPES:
        assert argv[1:3] == ["-m", "torch.distributed.run"]  # torchrun
        assert "--nproc_per_node=8" in argv and "--standalone" in argv


@pytest.mark.parametrize("recipe", ALL_RECIPES)
def test_the_trainer_entry_point_composes_what_the_tests_compose(recipe, grpo_env, sft_env):
    """Hydra's ``--cfg job`` runs the real ``@hydra.main`` of the entry module up to the composed config."""
    env = env_for(recipe, grpo_env, sft_env)
    launch = dry_run(recipe, env)
    hydra_args = launch.argv[launch.argv.index(launch.entry_module) + 1 :]
    proc = subprocess.run(
        [sys.executable, "-m", launch.entry_module, *hydra_args, "--cfg", "job"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert yaml.safe_load(proc.stdout) == plain(compose(launch))


@pytest.mark.parametrize("recipe", ALL_RECIPES)
def test_missing_required_path_stops_the_recipe_with_its_name(recipe, grpo_env, sft_env):
    env = env_for(recipe, grpo_env, sft_env)
    del env["TRAIN_FILES"]
    proc = run_recipe(recipe, env)
    assert proc.returncode != 0
    assert "TRAIN_FILES" in proc.stderr
    assert proc.stdout == ""


def test_sft_multi_node_uses_a_rendezvous_instead_of_standalone(sft_env):
    launch = dry_run(SFT_RECIPE, sft_env(NNODES="2", NODE_RANK="1", MASTER_ADDR="10.0.0.5", NGPUS_PER_NODE="4"))
    launcher = launch.argv[: launch.argv.index("verl.trainer.sft_trainer")]
    assert "--standalone" not in launcher
    assert {"--nnodes=2", "--node_rank=1", "--master_addr=10.0.0.5", "--nproc_per_node=4"} <= set(launcher)
    config = compose(launch)
    assert (config.trainer.nnodes, config.trainer.n_gpus_per_node) == (2, 4)


# ------------------------------------------------------------------------------------------ GRPO composition


@pytest.mark.parametrize("recipe", GRPO_RECIPES)
def test_grpo_config_passes_verl_validation_and_dataclass_conversion(recipe, family, checked_grpo):
    from verl.workers.config import HFModelConfig, RolloutConfig

    _, checked = checked_grpo[recipe, family]
    rollout, model = checked.converted["rollout"], checked.converted["model"]
    assert isinstance(rollout, RolloutConfig) and isinstance(model, HFModelConfig)
    assert checked.config.algorithm.adv_estimator == "grpo"
    assert set(checked.converted) == {"actor", "rollout", "model", "checkpoint_engine", "algorithm"}  # no ref/critic
    # The family's template (MODEL_FAMILY=auto: read from the model folder) reached verl's model config as text and
    # verl put it on the processor and tokenizer.
    assert model.custom_chat_template == template_text(family)
    assert model.processor is not None and model.processor.chat_template == template_text(family)
    assert checked.config.data.image_patch_size == FACTOR_AND_PATCH[family][1]
    assert (
        checked.config.trainer.experiment_name
        == f"{ {'qwen2_5_vl': 'qwen25vl7b', 'qwen3_vl': 'qwen3vl8b'}[family] }_{recipe}"
    )
    # GPU path: FSDP2, flash-attention 2 with remove-padding; vLLM by default.
    assert checked.converted["actor"].strategy == "fsdp2"
    assert model.use_remove_padding and model.override_config["attn_implementation"] == "flash_attention_2"
    assert rollout.name == "vllm" and rollout.multi_turn.enable
    assert rollout.agent.default_agent_loop == "pixel_agent"


@pytest.mark.parametrize("recipe", GRPO_RECIPES)
def test_grpo_config_adds_no_key_unknown_to_verl(recipe, checked_grpo):
    from verl.workers.config import RolloutConfig

    launch, _ = checked_grpo[recipe]
    config, base = compose(launch), compose_base("ppo_trainer")
    assert added_keys(config, base) == set(ALLOWED_ADDITIONS)
    assert "limit_images" in {field.name for field in dataclasses.fields(RolloutConfig)}
    # 0.9.1's main_ppo silently ignores the legacy top-level reward keys: the recipe leaves them as verl has them
    for legacy in ("custom_reward_function", "reward_model"):
        assert plain(config)[legacy] == plain(base)[legacy]


@pytest.mark.parametrize("recipe", GRPO_RECIPES)
def test_grpo_references_resolve_and_name_registered_components(recipe, checked_grpo):
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
    from verl.experimental.agent_loop.tool_parser import ToolParser
    from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER
    from verl.workers.rollout.base import _ROLLOUT_REGISTRY
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from verl_pixel.data.rl_dataset import PixelRLDataset
    from verl_pixel.reward.adapters.replay_buffer import PixelReplayBuffer

    _, checked = checked_grpo[recipe]
    config, refs = checked.config, checked.references
    assert refs["data.custom_cls.path"] is PixelRLDataset
    assert refs["trainer.v1.sampler.custom_sampler.path"] is PixelReplayBuffer
    assert refs["algorithm._target_"].__name__ == "AlgoConfig"
    assert sum(isinstance(v, type) for v in refs.values()) == len(refs)  # every reference is an importable class
    rollout = config.actor_rollout_ref.rollout
    agent = _agent_loop_registry[rollout.agent.default_agent_loop]
    assert import_target(agent["_target_"]).__name__ == "PixelAgentLoop"
    assert rollout.multi_turn.format in ToolParser._registry
    assert config.reward.reward_manager.source == "register"
    assert config.reward.reward_manager.name in REWARD_MANAGER
    for backend in ("vllm", "sglang"):  # without importing the engines (not installed on CPU)
        assert (backend, rollout.mode) in _ROLLOUT_REGISTRY and backend in RolloutReplicaRegistry._registry


@pytest.mark.parametrize("recipe", GRPO_RECIPES)
def test_grpo_tool_yaml_loads_with_verl_and_carries_the_budgets(recipe, family, checked_grpo):
    from verl.tools.tool_registry import initialize_tools_from_config
    from verl.utils.import_utils import resolve_config_path

    launch, checked = checked_grpo[recipe, family]
    factor = FACTOR_AND_PATCH[family][0]
    config = checked.config
    path = Path(config.actor_rollout_ref.rollout.multi_turn.tool_config_path)
    assert path.parent == launch.output_dir  # generated for the run, next to its checkpoints
    assert config.data.tool_config_path == str(path)  # overlong-prompt filtering counts the same schemas
    tools = {tool.name: tool for tool in initialize_tools_from_config(resolve_config_path(str(path)))}
    assert set(tools) == {"crop_image", "select_frames"}
    for tool in tools.values():
        ops = tool.ops_config
        # Pixel Reasoner's budgets (2000 / 1000 / 400 visual tokens) in the family's units, and its coordinates.
        assert ops.image_max_pixels == config.data.max_pixels == 2000 * factor * factor
        assert (ops.crop_max_pixels, ops.frame_max_pixels) == (1000 * factor * factor, 400 * factor * factor)
        assert (ops.factor, ops.coordinates.value) == (
            factor,
            {"qwen2_5_vl": "auto", "qwen3_vl": "relative1000"}[family],
        )
        assert ops.max_images == config.actor_rollout_ref.rollout.limit_images
        assert ops.max_operations + 1 <= config.actor_rollout_ref.rollout.multi_turn.max_assistant_turns
    for entry in yaml.safe_load(path.read_text())["tools"]:
        assert import_target(entry["class_name"]) is type(tools[entry["tool_schema"]["function"]["name"]])


def test_grpo_pixel_budgets_come_from_variables_into_both_places(grpo_env):
    budgets = {"IMAGE_MAX_PIXELS": "802816", "CROP_MAX_PIXELS": "401408", "FRAME_MAX_PIXELS": "200704"}
    launch = dry_run("grpo_curiosity", grpo_env(**budgets))
    config = compose(launch)
    tools = yaml.safe_load(Path(config.actor_rollout_ref.rollout.multi_turn.tool_config_path).read_text())["tools"]
    assert config.data.max_pixels == 802816
    for tool in tools:
        assert (tool["config"]["image_max_pixels"], tool["config"]["crop_max_pixels"]) == (802816, 401408)
        assert tool["config"]["frame_max_pixels"] == 200704
    assert not any("MAX_PIXELS" in arg for arg in launch.argv)  # config, not environment variables


def test_grpo_bad_budget_is_refused_before_launch(grpo_env):
    proc = run_recipe("grpo_adaptive", grpo_env(CROP_MAX_PIXELS="10"))
    assert proc.returncode != 0 and "crop_max_pixels" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("recipe", GRPO_RECIPES)
def test_grpo_datasets_build_from_the_composed_data_section(recipe, family, checked_grpo):
    from verl.trainer.ppo.utils import create_rl_dataset

    from verl_pixel.data.rl_dataset import PixelRLDataset

    _, checked = checked_grpo[recipe, family]  # building it runs the family start-up check
    config, model = checked.config, checked.converted["model"]
    for files, is_train in ((config.data.train_files, True), (config.data.val_files, False)):
        dataset = create_rl_dataset(files, config.data, model.tokenizer, model.processor, is_train=is_train)
        assert isinstance(dataset, PixelRLDataset) and len(dataset) > 0  # nothing filtered as overlong
        row = dataset[0]
        assert any(item.get("type") == "image" for m in row["raw_prompt"] for item in m["content"] if "type" in item)


# ------------------------------------------------------------------------------------------------ model family


def test_a_named_family_the_model_folder_contradicts_stops_the_recipe_naming_both(grpo_env, sft_env):
    proc = run_recipe("grpo_adaptive", grpo_env("qwen2_5_vl", MODEL_FAMILY="qwen3_vl"))
    assert proc.returncode != 0 and proc.stdout == ""
    assert "model family qwen3_vl was requested but" in proc.stderr and "is qwen2_5_vl" in proc.stderr
    proc = run_recipe("sft_qwen3vl8b", sft_env(SFT_RECIPE))  # the Qwen3-VL recipe given a Qwen2.5-VL folder
    assert proc.returncode != 0 and "qwen3_vl was requested but" in proc.stderr


def test_a_hub_id_needs_the_family_named(grpo_env):
    proc = run_recipe("grpo_curiosity", grpo_env(MODEL_PATH="Qwen/Qwen3-VL-8B-Instruct"))
    assert proc.returncode != 0 and "set MODEL_FAMILY" in proc.stderr and proc.stdout == ""
    launch = dry_run("grpo_curiosity", grpo_env(MODEL_PATH="Qwen/Qwen3-VL-8B-Instruct", MODEL_FAMILY="qwen3_vl"))
    config = compose(launch)
    assert (config.data.max_pixels, config.data.image_patch_size) == (2000 * 32 * 32, 16)
    assert config.trainer.experiment_name == "qwen3vl8b_grpo_curiosity"


# --------------------------------------------------------------------------------------- the methods' settings


def test_adaptive_recipe_probes_with_the_look_less_layout(checked_grpo):
    from verl_pixel.pixel_config import pixel_config

    _, checked = checked_grpo["grpo_adaptive"]
    config = checked.config
    layout = pixel_config(config).rollout
    assert {mode.value: n for mode, n in layout.mode_layout} == {"adaptive": 8, "force_tool": 4, "no_tool": 4}
    assert layout.mode_layout[0][0].value == "adaptive"  # session 0 (validation) is adaptive
    assert layout.group_size == config.actor_rollout_ref.rollout.n == 16
    shaping = pixel_config(config).reward
    assert shaping.method == "look_less" and shaping.look_less.probe_gradient == "own_group"
    assert not config.algorithm.filter_groups.enable


def test_curiosity_recipe_is_pixel_reasoner(checked_grpo):
    from verl_pixel.pixel_config import pixel_config

    _, checked = checked_grpo["grpo_curiosity"]
    config, actor = checked.config, checked.converted["actor"]
    layout = pixel_config(config).rollout
    assert {mode.value: n for mode, n in layout.mode_layout} == {"adaptive": 8}
    assert layout.group_size == config.actor_rollout_ref.rollout.n == 8
    shaping = pixel_config(config).reward
    assert (shaping.method, shaping.curiosity.variant) == ("curiosity", "paper")
    assert (shaping.curiosity.alpha, shaping.curiosity.target_rapr) == (0.5, 0.3)
    assert not checked.converted["algorithm"].norm_adv_by_std_in_grpo
    assert (actor.clip_ratio_low, actor.clip_ratio_high, actor.use_kl_loss) == (0.2, 0.35, False)
    assert config.algorithm.filter_groups.enable and config.algorithm.filter_groups.metric == "reward"


def test_deepeyes_recipe_gates_the_tool_bonus(checked_grpo):
    from verl_pixel.pixel_config import pixel_config

    _, checked = checked_grpo["grpo_deepeyes"]
    shaping = pixel_config(checked.config).reward
    assert shaping.method == "deepeyes"
    assert (shaping.deepeyes.acc_weight, shaping.deepeyes.fmt_weight, shaping.deepeyes.tool_weight) == (0.8, 0.2, 1.2)
    layout = pixel_config(checked.config).rollout
    assert {mode.value: n for mode, n in layout.mode_layout} == {"adaptive": 16}
    assert layout.group_size == checked.config.actor_rollout_ref.rollout.n == 16


@pytest.mark.parametrize(
    ("recipe", "filter_groups", "expected_metric"),
    [
        ("grpo_curiosity", "", "reward"),
        ("grpo_curiosity", "0", None),
        ("grpo_adaptive", "", None),
        ("grpo_adaptive", "1", "reward"),
        ("grpo_deepeyes", "1", "reward"),
    ],
)
def test_replay_buffer_accepts_the_group_filter_hand_back(recipe, filter_groups, expected_metric, grpo_env):
    launch = dry_run(recipe, grpo_env(FILTER_GROUPS=filter_groups))
    config = compose(launch)
    OmegaConf.resolve(config)
    buffer = build_replay_buffer(config)  # raises if sampler_kwargs and algorithm.filter_groups disagree
    assert buffer.filter_groups_metric == expected_metric
    assert bool(config.algorithm.filter_groups.enable) == (expected_metric is not None)
    if expected_metric is not None:
        assert (buffer.gen_batch_size, buffer.train_batch_size) == (1, config.data.train_batch_size)
    assert buffer.reward_config.method == config.pixel.reward.method


# ------------------------------------------------------------------------------------------- start-up check

METHODS = {"grpo_adaptive": "look_less", "grpo_curiosity": "curiosity", "grpo_deepeyes": "deepeyes"}


@pytest.mark.parametrize("recipe", GRPO_RECIPES)
def test_grpo_declares_the_startup_check_and_passes_it(recipe, checked_grpo):
    from verl_pixel.startup_check import check_trainer_config

    launch, checked = checked_grpo[recipe]
    callbacks = compose(launch, return_hydra_config=True).hydra.callbacks
    assert callbacks.pixel_config_check._target_ == "verl_pixel.startup_check.PixelConfigCheck"
    # the whole check: pixel section against rollout.n, hf engine kwargs, and the run's tool YAML the recipe wrote
    assert check_trainer_config(checked.config).reward.method == METHODS[recipe]


def test_grpo_layout_that_disagrees_with_rollout_n_is_refused_at_startup_and_by_the_buffer(grpo_env):
    from verl_pixel.startup_check import check_trainer_config

    config = compose(dry_run("grpo_adaptive", grpo_env(), ["actor_rollout_ref.rollout.n=8"]))
    message = (
        "pixel.rollout.mode_layout sums to 16 (adaptive=8, force_tool=4, no_tool=4) but actor_rollout_ref.rollout.n=8"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        check_trainer_config(config)
    with pytest.raises(ValueError, match=re.escape(message)):  # the backstop in the trainer process
        build_replay_buffer(config)


def test_grpo_bad_tool_yaml_value_is_refused_at_startup_naming_the_key(grpo_env, tmp_path):
    from verl_pixel.startup_check import check_trainer_config

    launch = dry_run("grpo_adaptive", grpo_env())
    tools = Path(compose(launch).actor_rollout_ref.rollout.multi_turn.tool_config_path)
    bad = tmp_path / "tools.yaml"
    bad.write_text(tools.read_text().replace("crop_source: original", "crop_source: orignal", 1))
    config = compose(
        dry_run("grpo_adaptive", grpo_env(), [f"actor_rollout_ref.rollout.multi_turn.tool_config_path={bad}"])
    )
    with pytest.raises(ValueError) as err:
        check_trainer_config(config)
    assert str(err.value) == f"{bad}: tools[0].config.crop_source: 'orignal' is not one of original, model_view"


def test_sglang_is_one_variable_away(grpo_env):
    launch = dry_run("grpo_adaptive", grpo_env(ROLLOUT="sglang"))
    checked = check_main_ppo(launch)
    assert checked.converted["rollout"].name == "sglang"


# ------------------------------------------------------------------------------------- first run on a cluster


@pytest.mark.parametrize("recipe", ALL_RECIPES)
@pytest.mark.parametrize("value", ["cpu", " CPU "])
def test_a_gpu_recipe_refuses_the_cpu_platform_left_in_the_environment(recipe, value, grpo_env, sft_env):
    env = {**env_for(recipe, grpo_env, sft_env), "VERL_PLATFORM": value}
    proc = run_recipe(recipe, env)
    assert proc.returncode != 0 and proc.stdout == ""  # refused before the tool YAML or the command
    assert "error: VERL_PLATFORM=cpu is set in this shell" in proc.stderr
    assert "unset VERL_PLATFORM" in proc.stderr
    assert not (Path(env["OUTPUT_DIR"]) / "pixel_tools.yaml").exists()


@pytest.mark.parametrize("recipe", ALL_RECIPES)
def test_recipes_log_to_console_and_a_file_and_wandb_is_one_variable_away(recipe, grpo_env, sft_env):
    env = env_for(recipe, grpo_env, sft_env)
    assert list(compose(dry_run(recipe, env)).trainer.logger) == ["console", "file"]  # verl's default has wandb
    assert list(compose(dry_run(recipe, {**env, "LOGGER": "wandb"})).trainer.logger) == ["console", "wandb"]
    both = compose(dry_run(recipe, {**env, "LOGGER": "console,tensorboard,file"})).trainer.logger
    assert list(both) == ["console", "tensorboard", "file"]


def test_overlong_prompt_filter_uses_the_nodes_cpus(grpo_env):
    nproc = int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout)
    config = compose(dry_run("grpo_curiosity", grpo_env()))
    assert config.data.filter_overlong_prompts_workers == min(nproc, 32)
    assert compose_base("ppo_trainer").data.filter_overlong_prompts_workers == 1  # verl's: one process
    config = compose(dry_run("grpo_curiosity", grpo_env(FILTER_WORKERS="3")))
    assert config.data.filter_overlong_prompts_workers == 3


@pytest.mark.parametrize("recipe", GRPO_RECIPES)
def test_grpo_uses_fused_kernels_like_verls_qwen25vl_example(recipe, checked_grpo):
    _, checked = checked_grpo[recipe]
    assert checked.converted["model"].use_fused_kernels is True
    assert compose_base("ppo_trainer").actor_rollout_ref.model.use_fused_kernels is False  # verl's default


def test_cpu_mode_selects_the_cpu_platform_the_hf_rollout_and_the_cpu_overrides(grpo_env, sft_env):
    from verl_pixel.platform.cpu import CPU_GRPO_OVERRIDES, CPU_SFT_OVERRIDES

    launch = dry_run("grpo_adaptive", grpo_env(PLATFORM="cpu"))
    assert launch.overrides[-len(CPU_GRPO_OVERRIDES) :] == list(CPU_GRPO_OVERRIDES)
    checked = check_main_ppo(launch)
    rollout, model = checked.converted["rollout"], checked.converted["model"]
    assert (rollout.name, rollout.tensor_model_parallel_size, rollout.dtype) == ("hf", 1, "float32")
    assert (checked.config.trainer.device, checked.config.trainer.n_gpus_per_node) == ("cpu", 1)
    assert not model.use_remove_padding and model.override_config["attn_implementation"] == "sdpa"
    sft = dry_run(SFT_RECIPE, sft_env(PLATFORM="cpu"))
    assert sft.overrides[-len(CPU_SFT_OVERRIDES) :] == list(CPU_SFT_OVERRIDES)
    assert "--nproc_per_node=1" in sft.argv
    config = compose(sft)
    assert config.trainer.device == "cpu" and config.model.override_config.attn_implementation == "sdpa"
    proc = run_recipe("grpo_adaptive", grpo_env(PLATFORM="cpu", ROLLOUT="vllm"))
    assert proc.returncode != 0 and "ROLLOUT=vllm needs GPUs" in proc.stderr


# --------------------------------------------------------------------------------------------------------- SFT


def test_sft_config_converts_like_the_sft_trainer_and_has_method_hyperparameters(checked_sft):
    from verl.workers.config import FSDPEngineConfig, HFModelConfig

    launch, checked = checked_sft
    config, converted = checked.config, checked.converted
    model, engine, optim = converted["model"], converted["engine"], converted["optim"]
    assert isinstance(model, HFModelConfig) and isinstance(engine, FSDPEngineConfig)
    family = SFT_RECIPES[launch.config_name]
    assert model.processor is not None and model.processor.chat_template == template_text(family)
    assert (
        type(model.processor).__name__ == {"qwen2_5_vl": "Qwen2_5_VLProcessor", "qwen3_vl": "Qwen3VLProcessor"}[family]
    )
    assert engine.strategy == "fsdp2"
    assert model.use_remove_padding and model.override_config["attn_implementation"] == "flash_attention_2"
    # METHOD.md §4: lr 1e-6, 10% warmup, cosine, 5 epochs
    assert (optim.lr, optim.lr_warmup_steps_ratio, optim.lr_scheduler_type) == (1e-6, 0.1, "cosine")
    assert config.trainer.total_epochs == 5
    # a Hugging Face export per epoch for the GRPO recipes, resumable from the sharded state
    checkpoint = converted["checkpoint"]
    assert "hf_model" in checkpoint.save_contents and "hf_model" not in checkpoint.load_contents
    assert config.trainer.save_freq == "after_each_epoch"


def test_sft_config_adds_no_key_unknown_to_verl_and_its_references_resolve(checked_sft):
    from verl_pixel.data.sft_dataset import PixelSFTDataset

    launch, checked = checked_sft
    assert added_keys(compose(launch), compose_base("sft_trainer_engine")) == set()
    assert checked.references["data.custom_cls.path"] is PixelSFTDataset
    assert all(isinstance(v, type) for v in checked.references.values())


def test_sft_dataset_builds_from_the_composed_data_section(checked_sft):
    from verl.trainer.sft_trainer import create_sft_dataset

    from verl_pixel.data.sft_dataset import PixelSFTDataset

    _, checked = checked_sft
    config, model = checked.config, checked.converted["model"]
    dataset = create_sft_dataset(config.data.train_files, config.data, model.tokenizer, model.processor)
    assert isinstance(dataset, PixelSFTDataset) and len(dataset) == 4
    item = dataset[0]
    assert item["loss_mask"].sum() > 0 and "pixel_values" in item["multi_modal_inputs"]


def test_sft_without_validation_files_validates_never(sft_env):
    env = sft_env()
    del env["VAL_FILES"]
    config = compose(dry_run(SFT_RECIPE, env))
    # verl 0.9.1's SFT loop iterates a missing validation loader on every test_freq step
    assert config.data.val_files is None and config.trainer.test_freq == -1


# ------------------------------------------------------------------------------------------------------ shell


TRICKY_TEMPLATES = [
    "plain {{ x }}",
    "it's {%- if a == 'b' -%}\n",
    "backslash before quote: \\' and \\\\' and a lone \\n",
    "ends with backslashes \\\\",
    "",
]


@pytest.mark.parametrize("text", TRICKY_TEMPLATES)
def test_template_text_survives_hydra_quoting(text, tmp_path):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    path = tmp_path / "t.jinja"
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        ["bash", "-c", 'source "$1"; pixel_text_override some.key "$2"', "t", str(RECIPES / "_lib.sh"), str(path)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    override = OverridesParser.create().parse_override(proc.stdout)
    assert (override.key_or_group, override.value()) == ("some.key", text)


def test_template_with_an_interpolation_is_refused(tmp_path):
    path = tmp_path / "t.jinja"
    path.write_text("${oops}", encoding="utf-8")
    proc = subprocess.run(
        ["bash", "-c", 'source "$1"; pixel_text_override k "$2"', "t", str(RECIPES / "_lib.sh"), str(path)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "interpolation" in proc.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_recipes_are_shellcheck_clean():
    scripts = sorted(str(path) for path in RECIPES.glob("*.sh"))
    proc = subprocess.run(["shellcheck", "-x", *scripts], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


# ------------------------------------------------------------------------------------------ drift is caught


def test_unknown_key_in_a_converted_section_fails(grpo_env):
    launch = dry_run("grpo_deepeyes", grpo_env(), ["+actor_rollout_ref.rollout.limit_imagez=16"])
    with pytest.raises(Exception, match="limit_imagez"):
        check_main_ppo(launch)


def test_unknown_key_in_an_unconverted_section_fails(grpo_env):
    launch = dry_run("grpo_deepeyes", grpo_env(), ["+data.max_pixel=1000"])
    assert added_keys(compose(launch), compose_base("ppo_trainer")) == {*ALLOWED_ADDITIONS, "data.max_pixel"}


def test_key_unknown_to_verl_fails_at_compose(grpo_env):
    launch = dry_run("grpo_adaptive", grpo_env(), ["trainer.v1.sampler.custom_samplr.name=X"])
    with pytest.raises(Exception, match="custom_samplr"):
        compose(launch)


def test_bad_target_fails(grpo_env):
    launch = dry_run("grpo_adaptive", grpo_env(), ["data.custom_cls.name=NoSuchDataset"])
    with pytest.raises(AttributeError, match="NoSuchDataset"):
        check_main_ppo(launch)


def test_filter_groups_without_the_hand_back_is_refused(grpo_env):
    launch = dry_run("grpo_adaptive", grpo_env(), ["algorithm.filter_groups.enable=True"])
    config = compose(launch)
    OmegaConf.resolve(config)
    with pytest.raises(ValueError, match="filter_groups"):
        build_replay_buffer(config)


# ------------------------------------------------------------------------------------------------ peer presets


def test_pixel_reasoner_preset_sets_its_tools_template_and_rl_numbers(grpo_env):
    """PRESET=pixel_reasoner: what the dry run launches is checked as main_ppo checks it (verl validation, buffer)."""
    from verl.tools.tool_registry import initialize_tools_from_config
    from verl.utils.import_utils import resolve_config_path

    from verl_pixel.presets import preset, preset_chat_template

    proc = run_recipe("grpo_curiosity", grpo_env(PRESET="pixel_reasoner"))
    assert proc.returncode == 0, proc.stderr
    # What verl cannot express is said, not hidden.
    assert "preset pixel_reasoner: not expressible on verl: turns after a tool call sampled at temperature 0.9" in (
        proc.stderr
    )
    launch = parse_launch(reparse(proc.stdout), Path(grpo_env()["OUTPUT_DIR"]))
    checked = check_main_ppo(launch)
    config = checked.config
    actor = config.actor_rollout_ref.actor
    # ppo_actor.py: cosine_with_min_lr to 0.5 lr; train_ppo_ray.py: --l2 0.0, --adam_betas (0.9, 0.95)
    assert (actor.optim.min_lr_ratio, actor.optim.weight_decay, list(actor.optim.betas)) == (0.5, 0.0, [0.9, 0.95])
    # 512 prompts x 8 rollouts per rollout batch, 256-sample optimizer steps: 16 updates per rollout batch.
    n = config.actor_rollout_ref.rollout.n
    assert (config.data.train_batch_size, actor.ppo_mini_batch_size, n) == (512, 32, 8)
    assert (config.data.train_batch_size * n) // (actor.ppo_mini_batch_size * n) == 16
    reward = config.pixel.reward
    assert (reward.curiosity.variant, reward.curiosity.unparsable_score, reward.uniform_threshold) == (
        "released_code",
        -1.0,
        0.01,
    )
    assert config.algorithm.filter_groups.metric == "pixel/group/filter_reward"
    assert build_replay_buffer(config).filter_groups_metric == "pixel/group/filter_reward"
    path = resolve_config_path(config.actor_rollout_ref.rollout.multi_turn.tool_config_path)
    tools = {tool.name: tool for tool in initialize_tools_from_config(path)}
    assert set(tools) == {"crop_image_normalized", "select_frames"}
    ops = tools["crop_image_normalized"].ops_config
    assert (ops.output_style.value, ops.crop_source.value, ops.budget_stop.value) == (
        "pixel_reasoner",
        "model_view",
        "end",
    )
    chosen = preset("pixel_reasoner")
    expected = preset_chat_template(template_text_of("pixel_reasoner_tools.jinja"), chosen.tool_block)
    assert checked.converted["model"].custom_chat_template == expected


def template_text_of(name: str) -> str:
    from verl_pixel.configs import read_chat_template

    return read_chat_template(name)


def test_variables_the_user_sets_win_over_the_preset(grpo_env):
    launch = dry_run("grpo_curiosity", grpo_env(PRESET="pixel_reasoner", TRAIN_BATCH_SIZE="64", FILTER_GROUPS="0"))
    config = compose(launch)
    assert config.data.train_batch_size == 64 and config.actor_rollout_ref.actor.ppo_mini_batch_size == 32
    assert not config.algorithm.filter_groups.enable  # FILTER_GROUPS=0 replaced the preset's group filter
    assert [o for o in launch.overrides if o.startswith("group_filter=")] == ["group_filter=keep_all"]


def test_pixel_reasoner_preset_composes_with_the_qwen3_family(grpo_env):
    from verl_pixel.presets import preset, preset_chat_template
    from verl_pixel.tools.schema_yaml import read_ops_config

    launch = dry_run("grpo_curiosity", grpo_env("qwen3_vl", PRESET="pixel_reasoner"))
    config = compose(launch)
    ops = read_ops_config(config.actor_rollout_ref.rollout.multi_turn.tool_config_path)
    assert (ops.factor, ops.min_pixels, ops.image_max_pixels) == (32, 65536, 2000 * 32 * 32)  # the family's geometry
    assert (ops.coordinates.value, ops.crop_tool_name) == ("auto", "crop_image_normalized")  # the preset's behaviour
    block = preset("pixel_reasoner").tool_block
    assert config.actor_rollout_ref.model.custom_chat_template == preset_chat_template(template_text("qwen3_vl"), block)


def test_deepeyes_preset(grpo_env):
    from verl_pixel.tools.schema_yaml import read_ops_config

    launch = dry_run("grpo_deepeyes", grpo_env(PRESET="deepeyes"))
    checked = check_main_ppo(launch)
    config = checked.config
    assert config.pixel.reward.format.rule == "deepeyes" and config.pixel.reward.method == "deepeyes"
    ops = read_ops_config(config.actor_rollout_ref.rollout.multi_turn.tool_config_path)
    assert (ops.crop_tool_name, ops.padding, ops.min_side, ops.small_box.value) == (
        "image_zoom_in_tool",
        0.0,
        30,
        "reject",
    )
    assert "# How to call a tool" in checked.converted["model"].custom_chat_template


def test_sft_pixel_reasoner_preset(sft_env):
    proc = run_recipe(SFT_RECIPE, sft_env(PRESET="pixel_reasoner"))
    assert proc.returncode == 0, proc.stderr
    assert "not expressible on verl: per-sample loss mean" in proc.stderr
    assert "vision tower frozen" in proc.stderr
    checked = check_sft(parse_launch(reparse(proc.stdout), Path(sft_env()["OUTPUT_DIR"])))
    # instruction_tuning/sft.sh: 8 GPUs x 1 x gradient accumulation 2; HF Trainer weight decay 0.
    assert (checked.config.data.train_batch_size, checked.converted["optim"].weight_decay) == (16, 0.0)


def test_unknown_preset_stops_the_recipe(grpo_env):
    proc = run_recipe("grpo_curiosity", grpo_env(PRESET="pixelreasoner"))
    assert proc.returncode != 0 and "PRESET=pixelreasoner: use verl_pixel, pixel_reasoner or deepeyes" in proc.stderr
