"""The llama.cpp CPU guard and backend choice, on recorded /proc/cpuinfo flag lines."""

from __future__ import annotations

import pytest

from rag import llamacpp
from rag.llamacpp import choose_variant, compiled_features, cpu_flags, missing_instructions

# /proc/cpuinfo "flags" lines of three machines (the Zen 4 and Broadwell ones are public
# recordings from cloud VMs).
SAPPHIRE_RAPIDS = (  # Intel Xeon (Sapphire Rapids): this project's machine
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx "
    "fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology "
    "nonstop_tsc cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 "
    "x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm "
    "abm 3dnowprefetch cpuid_fault ssbd ibrs ibpb stibp ibrs_enhanced fsgsbase tsc_adjust "
    "bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq rdseed adx smap avx512ifma "
    "clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves "
    "avx_vnni avx512_bf16 wbnoinvd arat avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes "
    "vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid bus_lock_detect cldemote "
    "movdiri movdir64b fsrm md_clear serialize tsxldtrk ibt amx_bf16 avx512_fp16 amx_tile "
    "amx_int8 flush_l1d arch_capabilities")
ZEN4 = (  # AMD EPYC 9R14 (Zen 4): AVX-512 with VNNI and BF16, no AVX-VNNI, no AMX
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx "
    "fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good "
    "nopl nonstop_tsc cpuid extd_apicid aperfmperf tsc_known_freq pni pclmulqdq monitor "
    "ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand "
    "hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch topoext "
    "perfctr_core invpcid_single ssbd perfmon_v2 ibrs ibpb stibp ibrs_enhanced vmmcall "
    "fsgsbase bmi1 avx2 smep bmi2 invpcid avx512f avx512dq rdseed adx smap avx512ifma "
    "clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves "
    "avx512_bf16 clzero xsaveerptr rdpru wbnoinvd arat avx512vbmi pku ospke avx512_vbmi2 "
    "gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid flush_l1d")
AVX2_ONLY = (  # Intel Xeon E5-2673 v4 (Broadwell), an Azure VM: AVX2, no AVX-512
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx "
    "fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology "
    "cpuid pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 movbe popcnt aes xsave avx f16c "
    "rdrand hypervisor lahf_lm abm 3dnowprefetch invpcid_single pti fsgsbase bmi1 hle avx2 "
    "smep bmi2 erms invpcid rtm rdseed adx smap xsaveopt md_clear")

# What llama_print_system_info() reports for three builds.
OLD_AVX512_BUILD = (  # the Makefile's former build, made on a Sapphire Rapids machine
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | "
    "BMI2 = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")
HASWELL = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
           "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")
SAPPHIRERAPIDS = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
    "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")


def flags(line: str) -> set[str]:
    return cpu_flags(f"processor\t: 0\nmodel name\t: x\nflags\t\t: {line}\nbugs\t\t: spectre\n")


def test_cpuinfo_flags_are_read_from_the_flags_line():
    assert {"avx2", "avx512_vnni", "amx_int8"} <= flags(SAPPHIRE_RAPIDS)
    assert "spectre" not in flags(SAPPHIRE_RAPIDS)
    assert cpu_flags("processor : 0\n") == set()


def test_compiled_features_stop_at_the_next_backend():
    assert compiled_features(HASWELL + "BLAS : ACCELERATE = 1 | ")[:3] == ("SSE3", "SSSE3", "AVX")
    assert "ACCELERATE" not in compiled_features(HASWELL + "BLAS : ACCELERATE = 1 | ")
    assert compiled_features("") == ()


def test_the_zen4_crash_is_caught_before_it_happens():
    """The bug of issue 9: AVX-VNNI turned on because the CPU had AVX-512 VNNI."""
    assert missing_instructions(compiled_features(OLD_AVX512_BUILD), flags(ZEN4)) == ["AVX_VNNI"]
    assert missing_instructions(compiled_features(OLD_AVX512_BUILD), flags(SAPPHIRE_RAPIDS)) == []


def test_an_avx2_cpu_lacks_every_avx512_feature():
    missing = missing_instructions(compiled_features(SAPPHIRERAPIDS), flags(AVX2_ONLY))
    assert missing == ["AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AMX_INT8"]
    assert missing_instructions(compiled_features(SAPPHIRERAPIDS), flags(ZEN4)) == ["AMX_INT8"]


@pytest.mark.parametrize("cpu", [SAPPHIRE_RAPIDS, ZEN4, AVX2_ONLY])
def test_the_haswell_variant_runs_on_all_three(cpu):
    assert missing_instructions(compiled_features(HASWELL), flags(cpu)) == []


def test_variant_choice_prefers_the_best_score_and_leaves_amx_out():
    scores = {"x64": 1, "haswell": 40, "zen4": 120, "sapphirerapids": 160, "alderlake": 0}
    assert choose_variant(scores) == "zen4"
    assert choose_variant(scores, wanted="sapphirerapids") == "sapphirerapids"
    assert choose_variant({"haswell": 0, "x64": 0}) is None
    assert "sapphirerapids" in llamacpp.AVOIDED_VARIANTS


def test_a_forced_variant_the_cpu_refuses_is_a_cpu_error_and_a_broken_one_a_load_error(
        monkeypatch, tmp_path):
    """ggml_backend_load returns NULL for a module whose own CPU check fails (score 0, the
    AMX module on a CPU without AMX): that is the CPU's answer, not a broken build."""
    from pathlib import Path

    from rag.errors import CpuMismatchError, ModelLoadError

    class FakeGgml:
        def ggml_backend_reg_by_name(self, name):
            return 0  # no CPU backend loaded yet

        def ggml_backend_load(self, path):
            return 0  # ggml refused the module

    module = tmp_path / "libggml-cpu-sapphirerapids.so"
    monkeypatch.setattr(llamacpp, "variant_files", lambda folder: {"sapphirerapids": module})
    monkeypatch.setattr(llamacpp, "_ggml", lambda folder: FakeGgml())
    monkeypatch.setattr(llamacpp, "lib_dir", lambda: Path(tmp_path))
    monkeypatch.setattr(llamacpp, "_score", lambda path: 0)
    with pytest.raises(CpuMismatchError, match="lacks instructions.*unset RAG_LLAMA_CPU_VARIANT"):
        llamacpp._load_backend("sapphirerapids")
    monkeypatch.setattr(llamacpp, "_score", lambda path: 64)  # it says it runs, yet fails
    with pytest.raises(ModelLoadError, match="could not load.*make rebuild-llama"):
        llamacpp._load_backend("sapphirerapids")
