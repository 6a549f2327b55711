"""Datasets and loaders: CIFAR-10/100 (torchvision), a folder of images per class, scikit-learn's handwritten
`digits` (real images without a download), and synthetic `fake` images for offline runs; the search's two halves
of the training set and the evaluation's validation share.

Augmentation is the original DARTS one (appendix A.1/A.2): random crop with 4-pixel padding,
horizontal flip (not for digits), per-channel normalisation, optional cutout (DeVries & Taylor 2017).
data_on_device.py draws the same on the GPU, a batch at a time (--data_on_device).
"""
import copy
import math
import os

import torch
import torchvision.datasets as dset
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, DistributedSampler, Subset, SubsetRandomSampler

from .cli import UserError, check, check_positive

CIFAR_MEAN = [0.49139968, 0.48215827, 0.44653124]
CIFAR_STD = [0.24703233, 0.24348505, 0.26158768]
# the digits' train part at 8 px, pixel / 255, one grey value in all three channels (test_data.py recomputes them)
DIGITS_MEAN, DIGITS_STD = 0.3058, 0.3760
DIGITS_TEST_PORTION, DIGITS_TEST_SEED = 0.25, 1797  # the digits' fixed test split, whatever --seed and --split_seed
DATASETS = ['cifar10', 'cifar100', 'imagefolder', 'digits', 'fake']
IN_RANDOM_ORDER = ('cifar10', 'cifar100')  # files shuffled when the set was made: any slice holds every class
IMAGE_EXTENSIONS = dset.folder.IMG_EXTENSIONS  # .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp, any case


def add_args(parser):
    """The data flags both scripts share."""
    a = parser.add_argument
    a('--data', default='data', help='dataset folder (CIFAR is downloaded here if missing)')
    a('--dataset', default='cifar10', help=f'one of {", ".join(DATASETS)}')
    a('--fake_size', type=int, default=1024, help='number of synthetic training images with --dataset fake')
    a('--image_size', type=int, default=32)
    a('--split_seed', type=int, default=0,
      help='seed of the class-stratified random splits of the training set (search halves of an image folder or '
           'fake data, --valid_portion); independent of --seed')
    a('--cutout', action='store_true', help='cutout augmentation')
    a('--cutout_length', type=int, default=16)
    a('--workers', type=int, default=2, help='DataLoader worker processes')


def check_args(args):
    check_positive(args, ['fake_size', 'cutout_length', 'image_size'])
    check(args.workers >= 0, f'--workers must not be negative, got {args.workers}')
    check(args.image_size >= 8 and args.image_size % 4 == 0,
          f'--image_size must be a multiple of 4, at least 8 (two reductions halve it twice), got {args.image_size}')
    check(0 <= args.split_seed < 2 ** 63, f'--split_seed must be in [0, 2**63), got {args.split_seed}')
    check(args.dataset in DATASETS, f'unknown dataset {args.dataset!r} (choose from {", ".join(DATASETS)})')


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


def augmentation(dataset):
    """transform()'s and data_on_device.DeviceLoader's keywords for a dataset: its normalisation, and whether it flips."""
    if dataset == 'digits':  # no flip: a mirrored digit is another glyph or none
        return dict(mean=[DIGITS_MEAN] * 3, std=[DIGITS_STD] * 3, flip=False)
    return dict(mean=CIFAR_MEAN, std=CIFAR_STD, flip=True)


def transform(image_size, train, cutout_length=0, resize=False, mean=CIFAR_MEAN, std=CIFAR_STD, flip=True):
    """Train: (resize) -> random crop, padding image_size/8 (4 px at 32) -> flip -> normalise -> cutout."""
    steps = [T.Resize((image_size, image_size))] if resize else []
    if train:
        steps += [T.RandomCrop(image_size, padding=image_size // 8)] + ([T.RandomHorizontalFlip()] if flip else [])
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    if train and cutout_length > 0:
        steps.append(Cutout(cutout_length))
    return T.Compose(steps)


def dataset_transform(args, train):
    """The transform of args.dataset's training (augmented) or test images; an image folder's are resized."""
    native_size = {'cifar10': 32, 'cifar100': 32, 'fake': args.image_size, 'digits': args.image_size}.get(args.dataset)
    return transform(args.image_size, train, args.cutout_length if args.cutout else 0,
                     resize=native_size != args.image_size, **augmentation(args.dataset))


class InMemoryImages(torch.utils.data.Dataset):
    """Images held in memory as uint8, N x H x W x C (`images`), with their `targets` and `classes`: each drawn
    through `transform` (as CIFAR's; --data_on_device uploads the same array)."""

    def __init__(self, images, targets, classes, transform=None):
        self.images, self.targets, self.classes, self.transform = images, targets, classes, transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i])
        return (self.transform(img) if self.transform else img), int(self.targets[i])


class FakeImages(InMemoryImages):
    """Synthetic, learnable images: each class is a fixed smooth colour pattern plus pixel noise.

    The same arguments give the same images on every machine (private generators with fixed seeds,
    independent of --seed); the train and test splits share the class patterns, not the images.
    """

    def __init__(self, size, image_size, num_classes=10, transform=None, train=True):
        patterns = torch.rand(num_classes, 3, 4, 4, generator=torch.Generator().manual_seed(0))
        patterns = torch.nn.functional.interpolate(patterns, size=(image_size, image_size), mode='bilinear')
        g = torch.Generator().manual_seed(1 if train else 2)
        targets = torch.randint(num_classes, (size,), generator=g)
        noise = torch.rand(size, 3, image_size, image_size, generator=g)
        pixels = 0.6 * patterns[targets] + 0.4 * noise
        images = (pixels * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # N, H, W, C
        super().__init__(images, targets, [str(c) for c in range(num_classes)], transform)


class Digits(InMemoryImages):
    """scikit-learn's 1,797 handwritten digits (8 x 8, grey levels 0..16, 10 classes): the train part (1,348) or
    the test part (449) of a fixed class-stratified split, held as uint8 RGB at image_size.

    Grey level v becomes round(v * 255 / 16) in all three channels; other sizes than 8 are upsampled
    bilinearly (half-pixel centres, as PIL and OpenCV), once, here.
    """

    def __init__(self, image_size, transform=None, train=True):
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise UserError('--dataset digits needs scikit-learn: pip install -e ".[digits]"') from None
        digits = load_digits()
        test_idx, train_idx = stratified_split(digits.target, DIGITS_TEST_PORTION, DIGITS_TEST_SEED)
        idx = train_idx if train else test_idx
        pixels = torch.as_tensor(digits.images[idx], dtype=torch.float64)[:, None] * (255 / 16)  # N, 1, 8, 8
        if image_size != 8:
            pixels = torch.nn.functional.interpolate(pixels, size=(image_size, image_size), mode='bilinear')
        images = pixels.round().to(torch.uint8).repeat(1, 3, 1, 1).permute(0, 2, 3, 1).contiguous().numpy()
        super().__init__(images, digits.target[idx].tolist(), [str(c) for c in range(10)], transform)
        self.source_index = idx  # each image's place in load_digits()


class UnreadableImage(UserError):
    """An image whose header reads but whose pixels do not decode, met while training. A DataLoader worker's
    exception reaches the main process rebuilt from the text of its traceback: only the last line is kept."""

    def __init__(self, message):
        super().__init__(message.strip().splitlines()[-1].split(f'{type(self).__name__}: ', 1)[-1])


def class_folders(root):
    """The class folders of `root`, sorted (as torchvision's ImageFolder); hidden ones (.ipynb_checkpoints) skipped."""
    return sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and not entry.name.startswith('.'))


def image_files(folder):
    """The image files under `folder` (sub-folders included), sorted; hidden files (macOS's ._x.png) skipped."""
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        found += [os.path.join(parent, f) for f in sorted(files)
                  if not f.startswith('.') and f.lower().endswith(IMAGE_EXTENSIONS)]
    return found


def open_rgb(path):
    """The image at `path` in RGB: grayscale repeated over the channels, a palette looked up, alpha dropped."""
    with Image.open(path) as img:
        if img.mode == 'P' and 'transparency' in img.info:
            img = img.convert('RGBA')  # PIL warns when a palette with a transparent colour goes straight to RGB
        return img.convert('RGB')


class ImageFolder(torch.utils.data.Dataset):
    """root/<class>/<images>, labelled by the class's place in `classes` (default: root's class folders).

    Every file's header is read here (no pixels), so that a file which is no image is refused, by name,
    before a run begins; the pixels are decoded when the image is drawn.
    """

    def __init__(self, root, transform=None, classes=None):
        found = class_folders(root)
        if classes is None:
            check(len(found) >= 2, f'{root} holds {len(found)} class folder(s); a classifier needs at least 2')
        self.classes = found if classes is None else classes
        extra = sorted(set(found) - set(self.classes))
        check(not extra, f'{root} has class folder(s) that the training set lacks: {", ".join(extra)}')
        self.samples = []
        for label, name in enumerate(self.classes):
            if name in found:
                files = image_files(os.path.join(root, name))
                check(files, f'class folder {os.path.join(root, name)} holds no images ({" ".join(IMAGE_EXTENSIONS)})')
                self.samples += [(path, label) for path in files]
        check(self.samples, f'{root} holds no images')
        for path, _ in self.samples:
            try:
                Image.open(path).close()
            except Exception as e:  # whatever PIL raises on a file of any content: a one-line refusal
                raise UserError(f'{path} is not an image that PIL can read ({e})') from None
        self.targets = [label for _, label in self.samples]
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        try:
            img = open_rgb(path)
        except Exception as e:  # a truncated or corrupt body: PIL raises OSError, SyntaxError, zlib.error, ...
            raise UnreadableImage(f'{path} cannot be decoded ({" ".join(str(e).split())}); the checkpoints are kept: '
                                  'replace the file, then continue the run with --resume') from None
        return (self.transform(img) if self.transform else img), label


def load_dataset(args, train=True):
    """The training (train=True) or test split of args.dataset, with the matching transform."""
    tf = dataset_transform(args, train)
    if args.dataset == 'digits':
        return Digits(args.image_size, transform=tf, train=train)
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
    train_folder, folder = os.path.join(args.data, 'train'), os.path.join(args.data, 'train' if train else 'val')
    for f in {train_folder, folder}:
        check(os.path.isdir(f), f'--dataset imagefolder needs a folder {f} with one sub-folder of images per class')
    try:
        return ImageFolder(folder, tf, classes=None if train else class_folders(train_folder))
    except OSError as e:  # an unreadable folder
        raise UserError(f'{folder}: {e}') from None


def unaugmented(dataset, args):
    """The same images through the test transform (a shallow copy: the pixels are shared)."""
    plain = copy.copy(dataset)
    plain.transform = dataset_transform(args, train=False)
    return plain


def num_classes(dataset):
    return len(dataset.classes)


def stratified_split(targets, portion, seed):
    """(part, rest) of the indices: floor(portion * n) images drawn at random within each class, every class's
    share within one image of `portion` of its images (largest remainders round up), the same for a given seed."""
    targets = torch.as_tensor(targets)
    _, sizes = torch.unique(targets, return_counts=True)
    share = portion * sizes.double()
    counts = share.floor().long()
    short = max(math.floor(portion * len(targets)) - int(counts.sum()), 0)  # < number of classes
    counts[torch.argsort(counts - share, stable=True)[:short]] += 1
    g = torch.Generator().manual_seed(seed)
    part, rest = [], []
    for members, k in zip(torch.argsort(targets, stable=True).split(sizes.tolist()), counts.tolist()):
        members = members[torch.randperm(len(members), generator=g)]
        part += members[:k].tolist()
        rest += members[k:].tolist()
    return sorted(part), sorted(rest)


def search_split(args, dataset):
    """(w's indices, alpha's indices) in the training set: --train_portion of it and the rest.

    CIFAR: the original's split, the first images and the last ones (its files are in random order). Other
    sets are in class order (an image folder lists class after class), where that split would train w on
    the first classes and alpha on the others: a class-stratified random split drawn with --split_seed.
    With --holdout_portion P the search first leaves out the images train_eval.py's --valid_portion P holds
    out under the same --split_seed, so that a found cell is judged on images neither half saw.
    """
    kept = list(range(len(dataset)))
    if args.holdout_portion:
        kept = stratified_split(dataset.targets, args.holdout_portion, args.split_seed)[1]
    n = len(kept)
    if args.dataset in IN_RANDOM_ORDER:
        split = int(math.floor(args.train_portion * n))
        w_idx, alpha_idx = kept[:split], kept[split:]
    else:
        targets = torch.as_tensor(dataset.targets)[kept]
        w_part, alpha_part = stratified_split(targets, args.train_portion, args.split_seed)
        w_idx, alpha_idx = [kept[i] for i in w_part], [kept[i] for i in alpha_part]
    check(w_idx and alpha_idx,
          f'--train_portion {args.train_portion} of {n} images leaves an empty search-train or search-valid split')
    return w_idx, alpha_idx


def search_loaders(args, device, data):
    """(train_queue, valid_queue, num_classes): both halves of the training set `data`, reshuffled each pass.
    Both are augmented alike, as in the original."""
    train_idx, valid_idx = search_split(args, data)
    kwargs = dict(batch_size=args.batch_size, num_workers=args.workers, pin_memory=device.type == 'cuda')
    train_queue = DataLoader(data, sampler=SubsetRandomSampler(train_idx), **kwargs)
    valid_queue = DataLoader(data, sampler=SubsetRandomSampler(valid_idx), **kwargs)
    return train_queue, valid_queue, num_classes(data)


def eval_loaders(args, device, rank=0, world=1):
    """(train_queue, valid_queue, test_queue, num_classes) for training a network from scratch.

    It trains on the whole training set, or with --valid_portion P > 0 on a class-stratified random share
    1 - P of it (--split_seed), the rest being valid_queue, through the test transform (else valid_queue is
    None). With several processes each sees its DistributedSampler share of the training images, and a
    disjoint stride of the validation and test images (their sums, all-reduced, are the whole sets);
    batch_size is global.
    """
    train_data, test_data = load_dataset(args, train=True), load_dataset(args, train=False)
    classes, valid_data = num_classes(train_data), None
    if args.valid_portion > 0:
        valid_idx, train_idx = stratified_split(train_data.targets, args.valid_portion, args.split_seed)
        check(valid_idx and train_idx, f'--valid_portion {args.valid_portion} of {len(train_data)} images leaves '
                                       'no training or no validation images')
        valid_data = Subset(unaugmented(train_data, args), valid_idx)
        train_data = Subset(train_data, train_idx)
    kwargs = dict(batch_size=args.batch_size // world, num_workers=args.workers, pin_memory=device.type == 'cuda')
    if world > 1:
        sampler = DistributedSampler(train_data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
        train_queue = DataLoader(train_data, sampler=sampler, **kwargs)
        test_data = Subset(test_data, range(rank, len(test_data), world))
        if valid_data is not None:
            valid_data = Subset(valid_data, range(rank, len(valid_data), world))
    else:
        train_queue = DataLoader(train_data, shuffle=True, **kwargs)
    test_queue = DataLoader(test_data, shuffle=False, **kwargs)
    valid_queue = DataLoader(valid_data, shuffle=False, **kwargs) if valid_data is not None else None
    return train_queue, valid_queue, test_queue, classes


def cycle(loader):
    """Batches of `loader` without end, a new shuffle each pass (the valid half may be shorter)."""
    while True:
        yield from loader
