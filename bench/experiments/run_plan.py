"""Run a list of validation trials one after another: ``run_plan.py PLAN.tsv``.

Each line of the plan is ``label<TAB>preset<TAB>json overrides``: the preset's config with the
overrides applied (keys of ``extra`` merged into the preset's), trained on 50,000 images and
judged on the other 10,000 of the training set (``trial.py``; never the test set). Rows land in
``bench/results/trials.jsonl``. A label already recorded there is skipped, so a plan can be
stopped and re-run. Run it from the project root.
"""
import json
import subprocess
import sys
from pathlib import Path

from compare_trials import rows
from tui.core.config import preset_config

HERE = Path(__file__).resolve().parent


def main(plan: str) -> int:
    done = set(rows())
    for line in Path(plan).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, preset, overrides = line.split("\t")
        if label in done:
            print(f"skip {label} (already recorded)", flush=True)
            continue
        base = preset_config(preset)
        overrides = json.loads(overrides)
        overrides["extra"] = {**base.extra, **overrides.get("extra", {})}  # extra keys merge
        cfg = base.with_overrides(validation_split=1 / 6, **overrides).to_dict()
        cfg.pop("preset")
        print(f"== {label}", flush=True)
        rc = subprocess.run([sys.executable, str(HERE / "trial.py"), json.dumps(cfg), label]).returncode
        if rc:
            print(f"{label} failed with exit status {rc}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
