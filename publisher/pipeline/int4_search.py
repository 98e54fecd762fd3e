"""``--int4-search``: publish the most compressed INT4 setting that passes every gate.

A small language model loses much more to INT4 than a large one, and which setting still passes
the gates depends on the model (README, "Causal language models": SmolLM2-135M fails data-free
INT4 and passes only with half its layers in INT8). The search tries ``CANDIDATES`` in order, most
compressed first, within ``--search-budget`` trials, and stops at the first that passes every gate
the task declares (``Task.gates``, read generically, so a gate added to the task is judged too):
the candidates being ordered, no later one can be more compressed, so the answer is then known.

Each trial is exported into a folder of its own under ``OUTPUT/.publisher/int4-search/`` with its
own stage cache, keyed as the plain publish keys its export and measurements (checkpoint digest,
the setting, library versions, the evaluation data, the windows): a re-run re-uses every trial
whose inputs are unchanged, without loading the model, and judges it again with this run's
thresholds. The checkpoint is loaded once per run, and the torch side (its logits on the perplexity
windows, its greedy answers) is computed once and re-used by every trial (``TorchMemo``).

The rule for figures of cached trials: a trial re-used from the cache is a measurement of an earlier
run with the same inputs (the rule the plain publish follows for its own cached measurements); its
ledger entries and its row of the card's table say so and when it was measured.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from publisher.errors import BadInputError, GateFailedError
from publisher.results import (
    Claim,
    ExportResult,
    Int4Search,
    Kind,
    Measurements,
    Recheck,
    Report,
    SearchTrial,
    Where,
)
from publisher.tasks.contract import CHECKPOINT, DATA
from publisher.tasks.run import CACHE_DIR, MeasureRequest, StageTimer

SEARCH_DIR = "int4-search"  # under OUTPUT/.publisher/: one folder per trial


@dataclass(frozen=True)
class Candidate:
    """An INT4 setting. "More compressed" is a larger INT4 share (``ratio``: the share of the layers
    NNCF picks a precision for that get INT4, the rest INT8), then a larger group (fewer scales); of
    two equally compressed settings the data-free one comes first (it needs no calibration text)."""

    ratio: float
    data_aware: bool  # AWQ + scale estimation, calibrated on the start of the evaluation text
    group_divisor: int = 1  # 1: the base group size (--group-size, else the model's default); 2: half of it

    def words(self, group_size: int | None) -> str:
        how = "AWQ + scale estimation" if self.data_aware else "data-free"
        group = "default group" if group_size is None else (
            "per channel" if group_size == -1 else f"group {group_size}")
        return f"ratio {self.ratio:.1f}, {how}, {group}"


CANDIDATES: tuple[Candidate, ...] = (
    Candidate(1.0, False),  # plain --weight-format int4
    Candidate(1.0, True),
    Candidate(1.0, True, 2),  # still every layer in INT4, twice the scales
    Candidate(0.8, False),
    Candidate(0.8, True),
    Candidate(0.6, False),
    Candidate(0.6, True),
    Candidate(0.4, False),
    Candidate(0.4, True),
)


# --- refusals, before any work -------------------------------------------------------------------


def check_search(settings: Any, task: Any) -> None:
    """The search chooses ratio, AWQ and scale estimation itself; a task without INT4 has nothing to search."""
    if "int4" not in task.weight_formats:
        raise BadInputError(f"--int4-search searches INT4 weight settings, which are not offered for a {task.title}",
                            "Leave --int4-search out")
    c = settings.compression
    given = [flag for flag, on in (("--ratio", c.ratio != 1.0), ("--awq", c.awq),
                                   ("--scale-estimation", c.scale_estimation), ("--static-int8", c.static_int8))
             if on]
    if given:
        raise BadInputError(f"--int4-search chooses the INT4 ratio, AWQ and scale estimation itself, and {', '.join(given)} "
                            "was given too", f"Leave {', '.join(given)} out, or leave --int4-search out")


# --- the search ----------------------------------------------------------------------------------


class TorchMemo:
    """The checkpoint's torch model, with the answers it gave remembered: every trial scores the same
    windows and decodes the same prompts, so torch runs once per input and each later trial gets the
    same logits and tokens (only the IR changes between trials). Forward results keep ``logits`` only
    (the perplexity pass reads nothing else; a KV cache per window would cost memory for nothing)."""

    def __init__(self, model: Any) -> None:
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_forward", {})
        object.__setattr__(self, "_generated", {})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._model, name, value)  # e.g. check_generation's plain greedy generation_config

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = _call_key(args, kwargs)
        if key not in self._forward:
            self._forward[key] = _Logits(self._model(*args, **kwargs).logits)
        return self._forward[key]

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        key = _call_key(args, kwargs) + (repr(getattr(self._model, "generation_config", None)),)
        if key not in self._generated:
            self._generated[key] = self._model.generate(*args, **kwargs)
        return self._generated[key]


@dataclass(frozen=True)
class _Logits:
    logits: Any


def _call_key(args: tuple, kwargs: dict) -> tuple:
    def one(value: Any) -> Any:
        if hasattr(value, "detach") and hasattr(value, "shape"):
            data = value.detach().cpu().contiguous().numpy().tobytes()
            return ("tensor", tuple(value.shape), str(value.dtype), hashlib.sha256(data).hexdigest())
        return repr(value)

    return tuple(one(a) for a in args) + tuple((k, one(v)) for k, v in sorted(kwargs.items()))


class _Loaded:
    """The checkpoint and evaluation text, loaded on the first trial the cache does not hold."""

    def __init__(self, task: Any, settings: Any, progress: Any, timer: StageTimer) -> None:
        self.task, self.settings, self.progress, self.timer = task, settings, progress, timer
        self._pair: tuple[Any, Any] | None = None
        self._memo: Any = None

    def get(self) -> tuple[Any, Any, Any]:
        """(loaded for exporting, loaded for measuring: torch remembered, evaluation text)."""
        if self._pair is None:
            self._pair = self.task.load(self.settings, self.progress, self.timer)
            self._memo = dataclasses.replace(self._pair[0], model=TorchMemo(self._pair[0].model))
        return self._pair[0], self._memo, self._pair[1]


def _trial_settings(settings: Any, candidate: Candidate, group_size: int | None) -> Any:
    compression = dataclasses.replace(settings.compression, weight_format="int4", ratio=candidate.ratio,
                                      awq=candidate.data_aware, scale_estimation=candidate.data_aware,
                                      group_size=group_size)
    return dataclasses.replace(settings, compression=compression, int4_search=False)


def _base_group_size(settings: Any, loaded: _Loaded) -> int:
    """--group-size, else the model's default (which needs the model)."""
    if settings.compression.group_size is not None:
        return int(settings.compression.group_size)
    from publisher.stages.export import default_group_size

    return int(default_group_size(loaded.get()[0].model))


def search(settings: Any, checked: Any, progress: Any, timer: StageTimer) -> Any:
    """Try the candidates, most compressed first; the runner's ``Measured`` of the trial released
    (the first that passed, else the best, whose report and card are then marked not released)."""
    from publisher.pipeline.extra_stages import _compatibility, _environment, _performance
    from publisher.pipeline.runner import Measured, stage_keys
    from publisher.pipeline.stage_cache import StageCache, _export_intact, _key
    from publisher.stages.load import digest_folder

    out, task = checked.output, checked.task
    with timer.timed("hash"):
        digests = digest_folder(Path(settings.checkpoint))
    loaded = _Loaded(task, settings, progress, timer)
    budget = int(settings.search_budget)
    trials: list[tuple[SearchTrial, ExportResult, Measurements, str, StageCache]] = []
    stopped = ""
    for number, candidate in enumerate(CANDIDATES, start=1):
        if len(trials) >= budget:
            stopped = (f"--search-budget {budget} was spent before a setting passed, and "
                       f"{len(CANDIDATES) - number + 1} less compressed candidates were not tried")
            break
        # The key names the group as asked (None: the model's default), so a cached trial needs no model.
        keyed = _trial_settings(settings, candidate, settings.compression.group_size)
        export_key, measure_key = stage_keys(keyed, task, digests)
        export_key = _key("int4-search", export_key, candidate.group_divisor)
        measure_key = _key("int4-search", measure_key, candidate.group_divisor)
        folder = out / CACHE_DIR / SEARCH_DIR / f"{number:02d}-{export_key[:12]}"
        cache = StageCache(folder, settings.use_cache)
        export = cache.get("export", export_key, ExportResult)
        if export is not None and not _export_intact(folder, export):
            export = None
        measurements = cache.get("measure", measure_key, Measurements) if export else None
        from_cache = measurements is not None
        if measurements is None:
            group = None
            if candidate.group_divisor != 1 or settings.compression.group_size is not None:
                base = _base_group_size(settings, loaded)
                if candidate.group_divisor != 1 and (base == -1 or base // candidate.group_divisor < 16):
                    continue  # no smaller group to try on this model (per channel, or already 16)
                group = base if base == -1 else base // candidate.group_divisor
            trial_settings = _trial_settings(settings, candidate, group)
            progress.note(f"INT4 search, trial {number} ({len(trials) + 1} of at most {budget}): "
                          f"{candidate.words(group)}")
            for_export, for_measure, eval_text = loaded.get()
            if export is None:
                shutil.rmtree(folder, ignore_errors=True)
                export = task.export_loaded(trial_settings, for_export, eval_text, folder,
                                            folder / CACHE_DIR / "staging")
                cache.put("export", export_key, export)
            request = MeasureRequest(settings=trial_settings, output=folder, export=export, progress=progress,
                                     timer=StageTimer(), on_export=lambda e: None)
            measurements, export = task.measure_loaded(request, for_measure, eval_text)
            measurements = dataclasses.replace(measurements, environment=_environment(export))
            cache.put("measure", measure_key, measurements)
        else:
            measurements = task.retyped(measurements)
            progress.note(f"INT4 search, trial {number}: re-using {folder.name} from the cache")
        measurements = task.rejudged(measurements, settings.gates)
        trial = _judged(number, candidate, settings, checked, export, measurements, folder, out, from_cache)
        trials.append((trial, export, measurements, export_key, cache))
        if trial.passed:
            stopped = (f"trial {number} passed every gate; the candidates after it are less compressed, "
                       "so they were not tried")
            break
    if not trials:
        raise BadInputError("--int4-search had no candidate to try", "Pass --search-budget 1 or more")
    if not stopped:
        stopped = "every candidate was tried and none passed every gate"
    chosen = next((t for t in trials if t[0].passed), None)
    released = chosen or min(trials, key=lambda t: _shortfall(t[0]))
    trial, export, measurements, export_key, cache = released
    record = Int4Search(candidates=len(CANDIDATES), budget=budget, trials=[t[0] for t in trials],
                        chosen=trial.number if chosen else None, stopped=stopped)
    release_export = _into_release(export, Path(trial.folder), out)
    tg = dataclasses.replace(measurements.text_generation, int4_search=record)
    measurements = dataclasses.replace(measurements, text_generation=tg)
    hits = {"export": all(t[0].from_cache for t in trials), "measure": all(t[0].from_cache for t in trials)}
    # --bench and --openvino run on the released IR, cached with that trial.
    performance = _performance(settings, task, out, export_key, cache, progress, timer, hits)
    compatibility = _compatibility(settings, task, out, export_key, cache, progress, timer, hits)
    return Measured(export=release_export, measurements=measurements, performance=performance, cache_hits=hits,
                    compatibility=compatibility)


def _judged(number: int, candidate: Candidate, settings: Any, checked: Any, export: ExportResult,
            measurements: Measurements, folder: Path, out: Path, from_cache: bool) -> SearchTrial:
    """The trial's verdicts: the task's own gates, judged on the report this trial would release."""
    from publisher.pipeline.runner import Measured, _build_report

    report = _build_report(settings, checked, Measured(export=export, measurements=measurements, performance=None,
                                                       cache_hits={}))
    gates = checked.task.evaluate_gates(settings.gates, report)
    tg = measurements.text_generation
    q = tg.compression
    return SearchTrial(
        number=number,
        setting=candidate.words(q.group_size),
        ratio=float(q.ratio if q.ratio is not None else candidate.ratio),
        group_size=int(q.group_size) if q.group_size is not None else -1,
        awq=bool(q.awq),
        scale_estimation=bool(q.scale_estimation),
        int4_share=float(tg.weight_precision.shares.get("int4", 0.0)),
        figures={g.name: g.measured for g in gates},
        gates=gates,
        passed=all(g.passed for g in gates),
        measured=measurements.created,
        from_cache=from_cache,
        folder=folder.relative_to(out).as_posix(),
    )


def _shortfall(trial: SearchTrial) -> tuple[int, float, int]:
    """The best of failed trials: the fewest gates missed, then the smallest total miss (each gate
    in its own unit: the figures are shares or relative increases), then the more compressed."""
    missed = [g for g in trial.gates if not g.passed]
    return len(missed), sum(abs(g.measured - g.threshold) for g in missed), trial.number


def _into_release(export: ExportResult, folder: Path, out: Path) -> ExportResult:
    """The trial's files copied into the release folder, where the card, the ledger and the push take them."""
    for f in export.files:
        target = out / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out / folder / f.path, target)
    return dataclasses.replace(export, output_dir=str(out))


# --- the report, the ledger, the card and the error ----------------------------------------------------


def search_of(report: Report) -> Int4Search | None:
    tg = getattr(report, "text_generation", None)
    return getattr(tg, "int4_search", None) if tg is not None else None


def _missed(trial: SearchTrial) -> str:
    return " and ".join(f"{g.name} ({g.measured:.4f}, needs {g.comparison} {g.threshold:g})"
                        for g in trial.gates if not g.passed)


def no_setting_passed(search_record: Int4Search, out: Path, document: dict[str, Any]) -> GateFailedError:
    """Exit 3: no trial passed; the best one is named with what it missed."""
    best = next(t for t in search_record.trials if t.number == min(search_record.trials, key=_shortfall).number)
    tried = len(search_record.trials)
    untried = search_record.candidates - max(t.number for t in search_record.trials)
    flags = sorted({"--" + g.name.replace("_", "-") for g in best.gates if not g.passed})
    more = (f"raise --search-budget (now {search_record.budget}) to try the {untried} less compressed candidates "
            "left, " if untried else "")
    return GateFailedError(
        f"No INT4 setting passed every gate: {tried} trial{'s' if tried != 1 else ''} of {search_record.candidates} "
        f"candidates were tried: {search_record.stopped}. The best, trial {best.number} ({best.setting}, INT4 "
        f"share {best.int4_share:.3f}), missed {_missed(best)}. Nothing was pushed; the report (every trial) "
        f"and the card of the best trial are in {out}, marked as not released",
        f"{more[:1].upper() + more[1:] if more else ''}{'p' if more else 'P'}ublish INT8 weights (leave "
        f"--int4-search out), or change the thresholds ({', '.join(flags)}) if they are wrong",
        document=document,
    )


def _gate_spec(report: Report, option: str) -> Any:
    from publisher.tasks import task_of

    return next((g for g in task_of(report).gates if g.option == option), None)


def _printed(value: float) -> str:
    return f"{value:.4f}"


def trial_claims(report: Report) -> list[Claim]:
    """One ledger entry per figure of each trial (its INT4 share and each gated figure): records of
    the search, re-checkable by nobody (the trials' IRs are not in the release but the chosen one)."""
    record = search_of(report)
    if record is None:
        return []
    claims = []
    for t in record.trials:
        when = (f"measured {t.measured} in an earlier run with the same inputs, re-used from the cache"
                if t.from_cache else f"measured {t.measured} in this run")
        for name, value in {"int4_share": t.int4_share, **t.figures}.items():
            claims.append(Claim(
                id=f"int4_search.trial{t.number}.{name}", kind=Kind.FIGURE,
                text=f"INT4 search, trial {t.number} ({t.setting}): {name.replace('_', ' ')} ({when})",
                value=float(value), printed=_printed(value), stage="int4_search",
                field=f"text_generation.int4_search.trials (number {t.number}): "
                      + ("int4_share" if name == "int4_share" else f"figures.{name}"),
                inputs=[CHECKPOINT, DATA], recheck=Recheck.RECORD,
                tolerance_reason="a record of the search: the trial's IR is not in the release",
                where=[Where.BODY]))
    return claims


def search_context(report: Report, ledger: Any) -> dict[str, Any] | None:
    """The card's table of trials, each figure as its ledger entry prints it."""
    record = search_of(report)
    if record is None:
        return None
    printed = {c.id: c.printed for c in ledger.claims} if ledger is not None else {}
    rows = []
    for t in record.trials:
        def shown(name: str) -> str:
            return printed.get(f"int4_search.trial{t.number}.{name}", _printed(getattr(t, name, 0.0)
                                                                               if name == "int4_share" else t.figures[name]))
        rows.append({
            "number": t.number, "setting": t.setting, "int4_share": shown("int4_share"),
            "figures": {name: shown(name) for name in t.figures},  # a gate without a figure: none
            "missed": [g.name for g in t.gates if not g.passed], "passed": t.passed,
            "from_cache": t.from_cache, "measured": t.measured,
        })
    judged = {g.name: g for t in record.trials for g in t.gates}
    gates = [{"name": name, "title": _title(g)} for name, g in judged.items()]
    return {"candidates": record.candidates, "budget": record.budget, "stopped": record.stopped,
            "chosen": record.chosen, "gates": gates, "trials": rows}


def summary_rows(report: Report) -> list[tuple[str, str, str]]:
    """The CLI summary's row of the search: what was tried and what the release is."""
    record = search_of(report)
    if record is None:
        return []
    tried = len(record.trials)
    chosen = next((t for t in record.trials if t.number == record.chosen), None)
    cached = sum(t.from_cache for t in record.trials)
    return [(f"INT4 search ({tried} trial{'s' if tried != 1 else ''}, {cached} from the cache)", "",
             f"trial {chosen.number}: {chosen.setting}" if chosen else "none passed")]


def _title(gate: Any) -> str:
    """A gate as a column heading: "perplexity increase <= 0.1" for max_perplexity_increase."""
    what = gate.name.removeprefix("min_").removeprefix("max_").replace("_", " ")
    return f"{what} {gate.comparison} {gate.threshold:g}"
