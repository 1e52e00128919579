#!/usr/bin/python3
"""The analyst's script: what a quality analyst writes in pandas instead of the pipeline.

scripts/pandas_baseline.py EXPORT_DIR OUT.xlsx

It is the speed baseline of scripts/bench.sh (BENCHMARKS.md says what it does and does
not do). It reads the five canonical CSV files of an export folder, drops rows that
repeat a natural key (the last one is kept), and computes per-episode attendance,
quarterly completion by program and a landmark Kaplan-Meier table of dropout by dose
band (sessions a week in days 0-27, episodes still in care at day 28), then writes the
three tables to a workbook with openpyxl. It checks no value, keys no identifier (the
patient ids go to the workbook's attendance sheet as they are), and fits no model.

It runs with Debian's python3-pandas and python3-openpyxl (/usr/bin/python3).
"""

import os
import sys

import numpy as np
import pandas as pd

LANDMARK = 28
BANDS = [-np.inf, 1, 3, 5, np.inf]
BAND_NAMES = ["<1", "1-2", "3-4", "5+"]
DROPOUT = {"dropped_out", "terminated"}
COUNTED = {"attended", "no_show", "cancelled_by_patient"}


def read(folder, name, dates):
    df = pd.read_csv(os.path.join(folder, name + ".csv"))
    for c in dates:
        df[c] = pd.to_datetime(df[c], format="%Y-%m-%d")
    return df


def main(folder, out):
    programs = read(folder, "programs", []).drop_duplicates("program_id", keep="last")
    patients = read(folder, "patients", []).drop_duplicates("patient_id", keep="last")
    episodes = read(folder, "episodes", ["admit_date", "discharge_date"]).drop_duplicates("episode_id", keep="last")
    sessions = read(folder, "sessions", ["session_date"]).drop_duplicates("session_id", keep="last")
    observations = read(folder, "observations", ["obs_date"]).drop_duplicates(
        ["patient_id", "obs_date", "measure"], keep="last")
    cutoff = max(sessions["session_date"].max(), observations["obs_date"].max(),
                 episodes["admit_date"].max(), episodes["discharge_date"].max())

    # Per-episode attendance: sessions attended, sessions that count, rate, weeks in care.
    s = sessions.merge(episodes[["episode_id", "admit_date"]], on="episode_id", how="inner")
    s["attended"] = s["status"].eq("attended")
    s["counted"] = s["status"].isin(COUNTED)
    s["day"] = (s["session_date"] - s["admit_date"]).dt.days
    s["early"] = s["attended"] & s["day"].between(0, LANDMARK - 1)
    s["attended_day"] = s["day"].where(s["attended"])
    per = s.groupby("episode_id").agg(
        sessions=("session_id", "size"),
        attended=("attended", "sum"),
        counted=("counted", "sum"),
        early=("early", "sum"),
        last_attended_day=("attended_day", "max"),
    ).reset_index()
    att = episodes.merge(per, on="episode_id", how="left")
    for c in ["sessions", "attended", "counted", "early"]:
        att[c] = att[c].fillna(0).astype(int)
    att["attendance_rate"] = np.where(att["counted"] > 0, att["attended"] / att["counted"].where(att["counted"] > 0), np.nan)
    end = att["discharge_date"].fillna(cutoff)
    att["weeks_in_care"] = ((end - att["admit_date"]).dt.days + 1) / 7
    att["sessions_per_week"] = att["attended"] / att["weeks_in_care"]

    # Quarterly completion: episodes discharged as completed over all discharged, by
    # program and quarter of discharge.
    d = att[att["discharge_date"].notna()].copy()
    d["quarter"] = d["discharge_date"].dt.to_period("Q").astype(str)
    d["completed"] = d["discharge_reason"].eq("completed")
    comp = d.groupby(["program_id", "quarter"]).agg(
        discharged=("episode_id", "size"), completed=("completed", "sum")).reset_index()
    comp["completion_rate"] = comp["completed"] / comp["discharged"]
    comp = comp.merge(programs[["program_id", "name"]], on="program_id", how="left")

    # Landmark Kaplan-Meier of dropout by dose band: time is the day of the last
    # attended session (the cutoff for an active episode), dropout the event.
    active = att["discharge_date"].isna()
    att["time"] = np.where(active, (cutoff - att["admit_date"]).dt.days, att["last_attended_day"])
    att["event"] = att["discharge_reason"].isin(DROPOUT) & ~active
    cohort = att[att["time"] >= LANDMARK].copy()
    cohort["band"] = pd.cut(cohort["early"] / (LANDMARK / 7), BANDS, right=False, labels=BAND_NAMES)
    rows = []
    for band, g in cohort.groupby("band", observed=True):
        t = g.groupby("time").agg(events=("event", "sum"), leaving=("event", "size")).sort_index()
        t["at_risk"] = len(g) - t["leaving"].cumsum().shift(fill_value=0)
        t["survival"] = (1 - t["events"] / t["at_risk"]).cumprod()
        t = t[t["events"] > 0].reset_index()
        t.insert(0, "dose_band", band)
        rows.append(t[["dose_band", "time", "at_risk", "events", "survival"]])
    km = pd.concat(rows, ignore_index=True)

    sheet = att[["episode_id", "patient_id", "program_id", "admit_date", "discharge_date", "discharge_reason",
                 "sessions", "attended", "attendance_rate", "weeks_in_care", "sessions_per_week"]]
    with pd.ExcelWriter(out, engine="openpyxl") as xw:
        sheet.to_excel(xw, sheet_name="attendance", index=False)
        comp.to_excel(xw, sheet_name="completion", index=False)
        km.to_excel(xw, sheet_name="kaplan_meier", index=False)
    print(f"{len(patients)} patients, {len(episodes)} episodes, {len(sessions)} sessions, "
          f"{len(observations)} observations; {len(cohort)} episodes in the landmark cohort; wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: pandas_baseline.py EXPORT_DIR OUT.xlsx")
    main(sys.argv[1], sys.argv[2])
