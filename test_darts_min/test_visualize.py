"""Cell pictures: normal.png and reduce.png from a run directory, a genotype file or a name."""
import json
import os

from conftest import run_script
from darts_min import genotypes, visualize

PNG = b'\x89PNG\r\n\x1a\n'


def is_png(path):
    with open(path, 'rb') as f:
        return f.read(8) == PNG and os.path.getsize(path) > 10_000


def test_pictures_of_a_run_directory_land_beside_its_genotype(tmp_path):
    (tmp_path / 'genotype.json').write_text(json.dumps(genotypes.to_dict(genotypes.DARTS_V1)))
    assert visualize.main([str(tmp_path)]) == 0
    assert is_png(tmp_path / 'normal.png') and is_png(tmp_path / 'reduce.png')


def test_pictures_of_a_named_genotype_from_the_command_line(tmp_path):
    result = run_script('-m', 'darts_min.visualize', 'DARTS_V2', '--out', str(tmp_path / 'figs'))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / 'figs' / 'normal.png'), str(tmp_path / 'figs' / 'reduce.png')]
    assert is_png(tmp_path / 'figs' / 'normal.png')


def test_a_missing_genotype_is_one_line():
    result = run_script('-m', 'darts_min.visualize', 'no/such/run')
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        'python -m darts_min.visualize: error: no genotype file at no/such/run '
        '(give a run directory, a genotype.json, or one of DARTS_V1, DARTS_V2, DARTS, NASNet, AmoebaNet)']
