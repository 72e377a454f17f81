"""The memory budget: sizes, available memory, where the budget comes from, refusals."""

from __future__ import annotations

import pytest

from spikesub.models import memory
from spikesub.models.errors import MemoryBudgetError, SpikesubError
from spikesub.models.memory import (
    BUDGET_ENV_VAR,
    DEFAULT_BUDGET_FRACTION,
    check_allocation,
    format_bytes,
    memory_budget,
    memory_budget_bytes,
    parse_size,
    set_memory_budget,
)

GIB = 1 << 30


@pytest.fixture(autouse=True)
def default_budget(monkeypatch):
    """Every test starts from the default budget (no override, no environment variable) and
    leaves the process's setting as it found it."""
    monkeypatch.delenv(BUDGET_ENV_VAR, raising=False)
    with memory_budget(None):
        yield


@pytest.fixture
def free_memory(monkeypatch):
    """``free_memory(n)``: pretend ``n`` bytes are available (None: unknown)."""

    def pretend(n_bytes):
        monkeypatch.setattr(memory, "available_memory_bytes", lambda: n_bytes)

    return pretend


# ----------------------------------------------------------------------------------------------
# sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4096", 4096),
        ("32G", 32 * GIB),
        ("32g", 32 * GIB),
        ("500M", 500 << 20),
        ("500MB", 500 << 20),
        ("1.5GiB", 3 * GIB // 2),
        ("2T", 2 << 40),
        (" 64 K ", 64 << 10),
        (".5k", 512),
        ("1P", 1 << 50),
        ("0.5", 1),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["none", "None", "unlimited", "off", "0", "0G"])
def test_parse_size_no_limit_is_zero(text):
    assert parse_size(text) == 0


@pytest.mark.parametrize("text", ["", "G", "32X", "-1G", "1e9", "32 GB extra", "ten"])
def test_parse_size_refuses_malformed_text(text):
    with pytest.raises(ValueError, match=r"not a size.*32G"):
        parse_size(text)


def test_parse_size_needs_a_string():
    with pytest.raises(TypeError, match="string"):
        parse_size(32)


@pytest.mark.parametrize(
    ("n_bytes", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1 KiB"),
        (1536, "1.5 KiB"),
        (3 * GIB, "3 GiB"),
        (146 * (1 << 40), "146 TiB"),
        (2.5 * (1 << 60), "2.5 EiB"),
    ],
)
def test_format_bytes(n_bytes, text):
    assert format_bytes(n_bytes) == text


def test_format_bytes_round_trips_through_parse_size():
    for n_bytes in (1 << 10, 7 << 20, 5 * GIB, 3 << 40):
        assert parse_size(format_bytes(n_bytes).replace(" ", "")) == n_bytes


# ----------------------------------------------------------------------------------------------
# available memory


def test_meminfo_available_reads_the_kernel_field(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  16000000 kB\nMemFree:  1000 kB\nMemAvailable:  2048 kB\n")
    assert memory._meminfo_available(meminfo) == 2048 * 1024
    meminfo.write_text("MemTotal:  16000000 kB\n")
    assert memory._meminfo_available(meminfo) is None
    assert memory._meminfo_available(tmp_path / "absent") is None


def test_cgroup_headroom_v2_and_v1(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("1073741824\n")
    (v2 / "memory.current").write_text("73741824\n")
    assert memory._cgroup_headroom(v2) == 1073741824 - 73741824
    (v2 / "memory.max").write_text("max\n")
    assert memory._cgroup_headroom(v2) is None
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text(str(4 * GIB))
    (v1 / "memory.usage_in_bytes").write_text(str(GIB))
    assert memory._cgroup_headroom(tmp_path / "v1") == 3 * GIB
    (v1 / "memory.limit_in_bytes").write_text(str(1 << 62))  # v1's "no limit"
    assert memory._cgroup_headroom(tmp_path / "v1") is None
    assert memory._cgroup_headroom(tmp_path / "nothing") is None


def test_available_memory_falls_back_to_sysconf_and_respects_the_cgroup(monkeypatch):
    monkeypatch.setattr(memory, "_meminfo_available", lambda: None)
    monkeypatch.setattr(memory, "_sysconf_available", lambda: 8 * GIB)
    monkeypatch.setattr(memory, "_cgroup_headroom", lambda: None)
    assert memory.available_memory_bytes() == 8 * GIB
    monkeypatch.setattr(memory, "_cgroup_headroom", lambda: 2 * GIB)
    assert memory.available_memory_bytes() == 2 * GIB
    monkeypatch.setattr(memory, "_sysconf_available", lambda: None)
    assert memory.available_memory_bytes() == 2 * GIB


def test_available_memory_on_this_machine_is_positive():
    available = memory.available_memory_bytes()
    assert available is None or available > 0
    sysconf = memory._sysconf_available()
    assert sysconf is None or sysconf > 0


# ----------------------------------------------------------------------------------------------
# the budget and where it comes from


def test_default_budget_is_a_fraction_of_the_available_memory(free_memory):
    free_memory(10 * GIB)
    assert memory_budget_bytes() == int(10 * GIB * DEFAULT_BUDGET_FRACTION)
    free_memory(None)
    assert memory_budget_bytes() is None  # unknown memory: nothing to base a default on


def test_environment_variable_overrides_the_default(monkeypatch, free_memory):
    free_memory(10 * GIB)
    monkeypatch.setenv(BUDGET_ENV_VAR, "3G")
    assert memory_budget_bytes() == 3 * GIB
    monkeypatch.setenv(BUDGET_ENV_VAR, "none")
    assert memory_budget_bytes() is None
    monkeypatch.setenv(BUDGET_ENV_VAR, "  ")
    assert memory_budget_bytes() == int(10 * GIB * DEFAULT_BUDGET_FRACTION)


def test_malformed_environment_variable_is_refused_by_name(monkeypatch):
    monkeypatch.setenv(BUDGET_ENV_VAR, "lots")
    with pytest.raises(ValueError, match=f"{BUDGET_ENV_VAR}.*'lots' is not a size"):
        memory_budget_bytes()
    with pytest.raises(ValueError, match=BUDGET_ENV_VAR):
        check_allocation("anything", 1)


def test_set_memory_budget_overrides_the_environment(monkeypatch, free_memory):
    free_memory(10 * GIB)
    monkeypatch.setenv(BUDGET_ENV_VAR, "3G")
    set_memory_budget("1G")
    assert memory_budget_bytes() == GIB
    set_memory_budget(5000)
    assert memory_budget_bytes() == 5000
    set_memory_budget("none")
    assert memory_budget_bytes() is None
    set_memory_budget(0)
    assert memory_budget_bytes() is None
    set_memory_budget(None)  # back to the environment variable
    assert memory_budget_bytes() == 3 * GIB


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf")])
def test_set_memory_budget_refuses_bad_numbers(bad):
    with pytest.raises(ValueError, match="memory budget"):
        set_memory_budget(bad)


def test_set_memory_budget_refuses_other_types():
    with pytest.raises(TypeError, match="memory budget"):
        set_memory_budget([1])
    with pytest.raises(TypeError, match="memory budget"):
        set_memory_budget(True)


def test_memory_budget_context_restores_the_previous_setting():
    set_memory_budget("2G")
    with memory_budget("1M"):
        assert memory_budget_bytes() == 1 << 20
        with memory_budget("none"):
            assert memory_budget_bytes() is None
        assert memory_budget_bytes() == 1 << 20
    assert memory_budget_bytes() == 2 * GIB


def test_memory_budget_context_restores_after_an_error():
    set_memory_budget("2G")
    with pytest.raises(MemoryBudgetError), memory_budget("1K"):
        check_allocation("a big array", 1 << 20)
    assert memory_budget_bytes() == 2 * GIB


# ----------------------------------------------------------------------------------------------
# check_allocation


def test_check_allocation_passes_up_to_the_budget_exactly():
    with memory_budget("1M"):
        check_allocation("a small array", 1 << 20)
        check_allocation("nothing", 0)
        with pytest.raises(MemoryBudgetError):
            check_allocation("one byte more", (1 << 20) + 1)
    with memory_budget("none"):
        assert memory_budget_bytes() is None
        check_allocation("an absurd array", 1e30)


def test_check_allocation_message_names_everything(free_memory):
    free_memory(6 * GIB)
    with memory_budget("4G"), pytest.raises(MemoryBudgetError) as info:
        check_allocation("spike buffer of run(duration_ms=1e12)", 146 * (1 << 40))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("spike buffer of run(duration_ms=1e12) would need about 146 TiB")
    assert "memory budget of 4 GiB" in message
    assert "6 GiB available" in message
    assert "--memory-budget SIZE" in message and BUDGET_ENV_VAR in message
    error = info.value
    assert isinstance(error, ValueError) and isinstance(error, SpikesubError)
    assert (error.what, error.n_bytes, error.budget_bytes) == (
        "spike buffer of run(duration_ms=1e12)",
        146 * (1 << 40),
        4 * GIB,
    )


def test_check_allocation_names_the_default_budget(free_memory):
    free_memory(GIB)
    with pytest.raises(MemoryBudgetError, match=r"default: 80% of available memory"):
        check_allocation("x", GIB)


def test_check_allocation_takes_estimates_beyond_64_bits():
    with memory_budget("1G"), pytest.raises(MemoryBudgetError) as info:
        check_allocation("an estimate", 1e40)
    assert info.value.n_bytes == 2**63 - 1


@pytest.mark.parametrize("bad", [-1.0, float("nan")])
def test_check_allocation_refuses_a_nonsense_estimate(bad):
    with pytest.raises(ValueError, match="n_bytes"):
        check_allocation("x", bad)


def test_check_allocation_lists_the_parts_largest_first_after_the_advice():
    parts = {"small": 1 << 20, "large": 3 * GIB, "middle": 2 << 30}
    with memory_budget("1G"), pytest.raises(MemoryBudgetError) as info:
        check_allocation("a job", sum(parts.values()), parts=parts)
    message = str(info.value)
    advice, listing = message.split("; by part: ")
    assert "--memory-budget" in advice
    assert listing == "large 3 GiB, middle 2 GiB, small 1 MiB"
