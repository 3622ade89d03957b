"""README's Python example runs as written."""

from __future__ import annotations

import re

from conftest import CONFIGS, ROOT


def test_readme_python_api_example_runs(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace('"configs/', f'"{CONFIGS}/'), "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("ok ") and printed[1].startswith("tensor(")
    assert (tmp_path / "model.pt").is_file()
