"""CIFAR-10 as torchvision reads it from disk, in both scripts and on both data paths (DataLoader, on the device)."""
import json
import os
import pickle

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar
from PIL import Image

import train_eval
import train_search
from conftest import read_metrics
from darts_min import data

SMALL = ['--device', 'cpu', '--init_channels', '4', '--layers', '3', '--batch_size', '8', '--workers', '0',
         '--report_freq', '1', '--epochs', '1']


@pytest.fixture
def cifar10(tmp_path, monkeypatch):
    """A folder laid out as the extracted cifar-10-python.tar.gz (pickled batches of 3072-byte rows: the red
    plane, then green, then blue), 8 images per training batch and 8 test images. Its files cannot have
    the real ones' MD5 sums, so torchvision's integrity check is told they do."""
    folder = tmp_path / 'cifar' / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = {}
    for name in [f'data_batch_{k}' for k in range(1, 6)] + ['test_batch']:
        rows[name] = rng.integers(0, 256, (8, 3072), dtype=np.uint8)
        with open(folder / name, 'wb') as f:
            pickle.dump({'data': rows[name], 'labels': rng.integers(0, 10, 8).tolist()}, f)
    with open(folder / 'batches.meta', 'wb') as f:
        pickle.dump({'label_names': ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship',
                                     'truck']}, f)
    monkeypatch.setattr(torchvision.datasets.cifar, 'check_integrity', lambda *args, **kwargs: True)
    return str(tmp_path / 'cifar'), rows


def test_cifar10_images_reach_the_network_as_torchvision_reads_them(cifar10):
    root, rows = cifar10
    args = train_search.parse_args(['--dataset', 'cifar10', '--data', root, '--data_on_device'] + SMALL)
    train = data.load_dataset(args, train=True)
    assert len(train) == 40 and data.num_classes(train) == 10
    images, _ = data.raw_images(train)
    first = rows['data_batch_1'][0].reshape(3, 32, 32).transpose(1, 2, 0)  # planes to H x W x C
    assert np.array_equal(images[0], first)
    # the on-device loader, without augmentation, gives what ToTensor and Normalize give the same image
    loader = data.DeviceLoader(images[:1], [0], [0], 1, torch.device('cpu'), train=False)
    assert torch.equal(next(iter(loader))[0][0], data.transform(32, train=False)(Image.fromarray(first)))


@pytest.mark.parametrize('path', ['--no-data_on_device', '--data_on_device'])
def test_search_and_evaluation_run_on_cifar10_files(cifar10, tmp_path, path):
    root, _ = cifar10
    search = str(tmp_path / 'search')
    assert train_search.main(['--dataset', 'cifar10', '--data', root, '--save', search, path] + SMALL) == 0
    log = open(os.path.join(search, 'log.txt')).read()
    assert 'train 002/3' in log  # the first half of the 40 training images, 8 a step
    [epoch] = read_metrics(search)
    assert epoch['valid_acc'] * 20 / 100 == pytest.approx(round(epoch['valid_acc'] * 20 / 100))  # of 20 images

    evaluation = str(tmp_path / 'eval')
    assert train_eval.main(['--dataset', 'cifar10', '--data', root, '--genotype', search, '--save', evaluation]
                           + SMALL) == 0
    [epoch] = read_metrics(evaluation)
    assert epoch['test_acc'] * 8 / 100 == pytest.approx(round(epoch['test_acc'] * 8 / 100))  # of the 8 test images


def test_a_resized_cifar10_falls_back_to_a_dataloader_and_is_read_once(cifar10, tmp_path, monkeypatch, capsys):
    root, _ = cifar10
    reads, load = [], data.load_dataset
    monkeypatch.setattr(data, 'load_dataset', lambda args, train=True: reads.append(train) or load(args, train))
    save = str(tmp_path / 'search')
    assert train_search.main(['--dataset', 'cifar10', '--data', root, '--image_size', '16', '--data_on_device',
                              '--save', save] + SMALL) == 0
    assert 'cifar10 at 16 px is not held as uint8 arrays; using a DataLoader' in capsys.readouterr().out
    assert reads == [True]  # the training set, read once for both paths
    assert not json.load(open(os.path.join(save, 'args.json')))['data_on_device']
