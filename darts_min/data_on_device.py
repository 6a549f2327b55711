"""--data_on_device: the GPU path's loader. The dataset is held on the device as uint8 and each batch is shuffled, cut,
augmented and normalised there by batched tensor operations, replacing DataLoader workers and torchvision's
per-image transforms (data.py), with the same augmentation distribution.
"""
import math

import torch

from .data import CIFAR_MEAN, CIFAR_STD, augmentation, num_classes, search_split


class DeviceLoader:
    """Batches of the images `indices` of a uint8 N x H x W x C array held on `device`, a new shuffle each pass.

    The augmentation draws the same distribution as `transform()`: a crop at a uniform offset of the
    zero-padded image, a flip with probability 1/2 (if `flip`), normalisation, cutout at a uniform centre; each
    is a batched tensor operation with the device's random generator (so a checkpoint holds its state).
    """

    def __init__(self, images, targets, indices, batch_size, device, train, cutout_length=0, channels_last=False,
                 mean=CIFAR_MEAN, std=CIFAR_STD, flip=True):
        self.images = torch.as_tensor(images).to(device)  # N, H, W, C uint8; a device tensor is shared, not copied
        self.targets = torch.as_tensor(targets).to(device)
        self.indices = torch.as_tensor(indices, device=device)
        self.batch_size, self.device, self.train = batch_size, device, train
        self.cutout_length, self.flip = cutout_length, flip
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)

    def __len__(self):
        return math.ceil(len(self.indices) / self.batch_size)

    def __iter__(self):
        order = self.indices[torch.randperm(len(self.indices), device=self.device)]
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.images[idx].permute(0, 3, 1, 2)  # N, C, H, W
            if self.train:
                x = random_crop_flip(x, x.shape[-1] // 8, self.flip)
            x = (x.float() / 255 - self.mean) / self.std  # as ToTensor then Normalize
            if self.train and self.cutout_length > 0:
                x = batch_cutout(x, self.cutout_length)
            yield x.contiguous(memory_format=self.memory_format), self.targets[idx]


def random_crop_flip(x, pad, flip=True):
    """RandomCrop(size, padding=pad) then (if `flip`) RandomHorizontalFlip, for a whole uint8 batch at once."""
    B, C, H, W = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (B,), device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (B,), device=x.device)
    rows = (oy[:, None] + torch.arange(H, device=x.device))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(W, device=x.device))[:, None, None, :]
    x = padded[torch.arange(B, device=x.device)[:, None, None, None], torch.arange(C, device=x.device)[None, :, None, None],
               rows, cols]
    if not flip:
        return x
    flipped = torch.rand(B, device=x.device) < 0.5
    return torch.where(flipped[:, None, None, None], x.flip(3), x)


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
    train_idx, valid_idx = search_split(args, data)
    images, targets = (torch.as_tensor(t).to(device) for t in raw)  # uploaded once, shared by both halves
    kwargs = dict(batch_size=args.batch_size, device=device, train=True,
                  cutout_length=args.cutout_length if args.cutout else 0, channels_last=args.channels_last,
                  **augmentation(args.dataset))
    return (DeviceLoader(images, targets, train_idx, **kwargs), DeviceLoader(images, targets, valid_idx, **kwargs),
            num_classes(data))
