"""Datasets and loaders: CIFAR-10/100 (torchvision), an ImageFolder, and synthetic `fake` images for offline runs.

Augmentation is the original DARTS one (appendix A.1/A.2): random crop with 4-pixel padding,
horizontal flip, per-channel normalisation, optional cutout (DeVries & Taylor 2017).
"""
import math
import os

import torch
import torchvision.datasets as dset
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, DistributedSampler, Subset, SubsetRandomSampler

from .cli import UserError

CIFAR_MEAN = [0.49139968, 0.48215827, 0.44653124]
CIFAR_STD = [0.24703233, 0.24348505, 0.26158768]
DATASETS = ['cifar10', 'cifar100', 'imagefolder', 'fake']


class Cutout:
    """Zero one square of side `length` at a uniformly drawn centre (clipped at the border)."""

    def __init__(self, length):
        self.length = length

    def __call__(self, img):
        h, w = img.shape[-2:]
        y, x = torch.randint(h, ()).item(), torch.randint(w, ()).item()
        img = img.clone()
        img[..., max(0, y - self.length // 2):y + self.length // 2, max(0, x - self.length // 2):x + self.length // 2] = 0.
        return img


def transform(image_size, train, cutout_length=0, resize=False):
    """Train: (resize) -> random crop, padding image_size/8 (4 px at 32) -> flip -> normalise -> cutout."""
    steps = [T.Resize((image_size, image_size))] if resize else []
    if train:
        steps += [T.RandomCrop(image_size, padding=image_size // 8), T.RandomHorizontalFlip()]
    steps += [T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)]
    if train and cutout_length > 0:
        steps.append(Cutout(cutout_length))
    return T.Compose(steps)


class FakeImages(torch.utils.data.Dataset):
    """Synthetic, learnable images: each class is a fixed smooth colour pattern plus pixel noise.

    The same arguments give the same images on every machine (private generators with fixed seeds,
    independent of --seed); the train and test splits share the class patterns, not the images.
    """

    def __init__(self, size, image_size, num_classes=10, transform=None, train=True):
        patterns = torch.rand(num_classes, 3, 4, 4, generator=torch.Generator().manual_seed(0))
        patterns = torch.nn.functional.interpolate(patterns, size=(image_size, image_size), mode='bilinear')
        g = torch.Generator().manual_seed(1 if train else 2)
        self.targets = torch.randint(num_classes, (size,), generator=g)
        noise = torch.rand(size, 3, image_size, image_size, generator=g)
        pixels = 0.6 * patterns[self.targets] + 0.4 * noise
        self.images = (pixels * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # N, H, W, C
        self.classes = [str(c) for c in range(num_classes)]
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i])
        return (self.transform(img) if self.transform else img), int(self.targets[i])


def load_dataset(args, train=True):
    """The training (train=True) or test split of args.dataset, with the matching transform."""
    native_size = {'cifar10': 32, 'cifar100': 32, 'fake': args.image_size}.get(args.dataset)
    tf = transform(args.image_size, train, args.cutout_length if args.cutout else 0,
                   resize=native_size != args.image_size)
    if args.dataset == 'fake':
        return FakeImages(args.fake_size if train else max(args.fake_size // 5, 1), args.image_size, transform=tf, train=train)
    if args.dataset in ('cifar10', 'cifar100'):
        cls = dset.CIFAR10 if args.dataset == 'cifar10' else dset.CIFAR100
        try:
            return cls(root=args.data, train=train, download=True, transform=tf)
        except Exception as e:  # no network, a broken archive, a read-only folder: all say the same to the user
            archive = 'cifar-10-python.tar.gz' if args.dataset == 'cifar10' else 'cifar-100-python.tar.gz'
            raise UserError(f'{args.dataset} is not in {args.data} and could not be downloaded ({e}); '
                            f'place {archive} (or its extracted folder) in {args.data}, or use --dataset fake') from None
    folder = os.path.join(args.data, 'train' if train else 'val')
    if not os.path.isdir(folder):
        raise UserError(f'--dataset imagefolder needs a folder {folder} with one sub-folder of images per class')
    try:
        return dset.ImageFolder(folder, transform=tf)
    except (FileNotFoundError, OSError) as e:
        raise UserError(f'{folder}: {e}') from None


def num_classes(dataset):
    return len(dataset.classes)


def search_split(n, train_portion):
    """The original split: the first floor(portion * n) training images train w, the rest train alpha."""
    split = int(math.floor(train_portion * n))
    if split < 1 or split >= n:
        raise UserError(f'--train_portion {train_portion} of {n} images leaves an empty search-train or search-valid split')
    return list(range(split)), list(range(split, n))


def search_loaders(args, device, data):
    """(train_queue, valid_queue, num_classes): both halves of the training set `data`, reshuffled each pass."""
    train_idx, valid_idx = search_split(len(data), args.train_portion)
    kwargs = dict(batch_size=args.batch_size, num_workers=args.workers, pin_memory=device.type == 'cuda')
    train_queue = DataLoader(data, sampler=SubsetRandomSampler(train_idx), **kwargs)
    valid_queue = DataLoader(data, sampler=SubsetRandomSampler(valid_idx), **kwargs)
    return train_queue, valid_queue, num_classes(data)


def eval_loaders(args, device, rank=0, world=1):
    """(train_queue, test_queue, num_classes) for training a network from scratch on the whole training set.

    With several processes each sees its DistributedSampler share of the training set, and a disjoint
    stride of the test set (their sums, all-reduced, are the whole test set); batch_size is global.
    """
    train_data, test_data = load_dataset(args, train=True), load_dataset(args, train=False)
    kwargs = dict(batch_size=args.batch_size // world, num_workers=args.workers, pin_memory=device.type == 'cuda')
    if world > 1:
        sampler = DistributedSampler(train_data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
        train_queue = DataLoader(train_data, sampler=sampler, **kwargs)
        test_data = Subset(test_data, range(rank, len(test_data), world))
    else:
        train_queue = DataLoader(train_data, shuffle=True, **kwargs)
    test_queue = DataLoader(test_data, shuffle=False, **kwargs)
    return train_queue, test_queue, num_classes(train_data)


class DeviceLoader:
    """The GPU path's loader: the dataset held on the device as uint8, batches shuffled, cut, augmented and
    normalised there, replacing DataLoader workers and torchvision transforms.

    The augmentation draws the same distribution as `transform()`: a crop at a uniform offset of the
    zero-padded image, a flip with probability 1/2, normalisation, cutout at a uniform centre; each is a
    batched tensor operation with the device's random generator (so a checkpoint holds its state).
    """

    def __init__(self, images, targets, indices, batch_size, device, train, cutout_length=0, channels_last=False):
        self.images = torch.as_tensor(images).to(device)  # N, H, W, C uint8; a device tensor is shared, not copied
        self.targets = torch.as_tensor(targets).to(device)
        self.indices = torch.as_tensor(indices, device=device)
        self.batch_size, self.device, self.train = batch_size, device, train
        self.cutout_length = cutout_length
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.mean = torch.tensor(CIFAR_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(CIFAR_STD, device=device).view(1, 3, 1, 1)

    def __len__(self):
        return math.ceil(len(self.indices) / self.batch_size)

    def __iter__(self):
        order = self.indices[torch.randperm(len(self.indices), device=self.device)]
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.images[idx].permute(0, 3, 1, 2)  # N, C, H, W
            if self.train:
                x = random_crop_flip(x, x.shape[-1] // 8)
            x = (x.float() / 255 - self.mean) / self.std  # as ToTensor then Normalize
            if self.train and self.cutout_length > 0:
                x = batch_cutout(x, self.cutout_length)
            yield x.contiguous(memory_format=self.memory_format), self.targets[idx]


def random_crop_flip(x, pad):
    """RandomCrop(size, padding=pad) then RandomHorizontalFlip, for a whole uint8 batch at once."""
    B, C, H, W = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (B,), device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (B,), device=x.device)
    rows = (oy[:, None] + torch.arange(H, device=x.device))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(W, device=x.device))[:, None, None, :]
    x = padded[torch.arange(B, device=x.device)[:, None, None, None], torch.arange(C, device=x.device)[None, :, None, None],
               rows, cols]
    flip = torch.rand(B, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def batch_cutout(x, length):
    """Cutout for a batch: one square per image, centre uniform, clipped at the border (as `Cutout`)."""
    B, _, H, W = x.shape
    cy = torch.randint(0, H, (B, 1, 1), device=x.device)
    cx = torch.randint(0, W, (B, 1, 1), device=x.device)
    r = torch.arange(H, device=x.device)[None, :, None]
    c = torch.arange(W, device=x.device)[None, None, :]
    hole = (r >= cy - length // 2) & (r < cy + length // 2) & (c >= cx - length // 2) & (c < cx + length // 2)
    return x.masked_fill(hole[:, None], 0.0)


def raw_images(dataset):
    """(uint8 N x H x W x C images, targets) of a dataset that holds them in memory, else None."""
    images = getattr(dataset, 'data', getattr(dataset, 'images', None))
    if images is None or getattr(images, 'ndim', 0) != 4:
        return None
    return images, dataset.targets


def search_device_loaders(args, device, data):
    """The search's two halves of the training set `data` as DeviceLoaders, or None where it is not held as
    uint8 arrays at the network's resolution (ImageFolder, a resized CIFAR)."""
    raw = raw_images(data)
    if raw is None or raw[0].shape[1] != args.image_size:
        return None
    train_idx, valid_idx = search_split(len(data), args.train_portion)
    images, targets = (torch.as_tensor(t).to(device) for t in raw)  # uploaded once, shared by both halves
    kwargs = dict(batch_size=args.batch_size, device=device, train=True,
                  cutout_length=args.cutout_length if args.cutout else 0, channels_last=args.channels_last)
    return (DeviceLoader(images, targets, train_idx, **kwargs), DeviceLoader(images, targets, valid_idx, **kwargs),
            num_classes(data))


def cycle(loader):
    """Batches of `loader` without end, a new shuffle each pass (the valid half may be shorter)."""
    while True:
        yield from loader
