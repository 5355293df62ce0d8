"""Prints the numpy/scipy reference values embedded in this crate's tests.

Run from the repository root: python3 crates/intensity/tests/gen_reference.py
(numpy 2.4, scipy 1.17, nibabel 5.4). Not needed to run the tests.
"""
import numpy as np, nibabel as nib, scipy.ndimage as ndi

x = np.asarray(nib.load("data/someones_anatomy.nii.gz").get_fdata(), dtype=np.float32)
print("anatomy", x.shape, "nonzero", int((x != 0).sum()))
for qs in ([5, 95], [0.5, 99.5], [0, 100], [37.3, 62.9], [1, 99]):
    print("pct all", qs, repr(np.percentile(x, qs).tolist()))
    print("pct nonzero", qs, repr(np.percentile(x[x != 0], qs).tolist()))
lo, hi = np.percentile(x, [5, 95])
print("pct clip 5 95 sum", float(np.clip(x, lo, hi).astype(np.float32).astype(np.float64).sum()))
mask = x > 60
print("pct mask>60", repr(np.percentile(x[mask], [2, 98]).tolist()), "mask count", int(mask.sum()))

def probes(a):
    idx = [(0, 0, 0), (28, 33, 28), (10, 50, 20), (56, 66, 55), (40, 12, 30), (20, 30, 40)]
    return [float(a[i]) for i in idx]

nz = x[x != 0]
z = (x - nz.mean()) / nz.std()
print("zscore nonzero mean std", float(nz.astype(np.float64).mean()), float(nz.astype(np.float64).std()))
print("zscore nonzero sum", float(z.astype(np.float64).sum()), "abs", float(np.abs(z.astype(np.float64)).sum()), "probes", probes(z))
z1 = (x - nz.mean()) / nz.std(ddof=1)
print("zscore ddof1 probes", probes(z1))
za = (x - x.mean()) / x.std()
print("zscore all probes", probes(za))
mm = (x - x.min()) / (x.max() - x.min())
print("minmax sum", float(mm.astype(np.float64).sum()), "probes", probes(mm))
mm2 = (x - x.min()) / (x.max() - x.min()) * 2 - 1
print("minmax [-1,1] probes", probes(mm2))

for sig in ([1.5, 1.5, 1.5], [0.8, 2.0, 0.0], [3.0, 1.0, 2.5]):
    b = ndi.gaussian_filter(x, sig, truncate=4.0, mode="reflect")
    print("blur", sig, "sum", float(b.astype(np.float64).sum()), "abs", float(np.abs(b.astype(np.float64)).sum()), "probes", probes(b))

# Small synthetic volume: v = ((7i + 13j + 29k) % 17) - 8 + 0.25 i, shape (6, 5, 4).
i, j, k = np.meshgrid(np.arange(6), np.arange(5), np.arange(4), indexing="ij")
s = (((7 * i + 13 * j + 29 * k) % 17) - 8 + 0.25 * i).astype(np.float32)
for sig in ([1.0, 1.0, 1.0], [0.7, 2.5, 0.0], [4.0, 0.5, 3.0]):
    b = ndi.gaussian_filter(s, sig, truncate=4.0, mode="reflect")
    print("small blur", sig, "fortran", repr([round(float(v), 7) for v in b.ravel(order="F")]))

m = np.asarray(nib.load("data/mni152_t1.nii.gz").get_fdata(), dtype=np.float32)[60:124, 70:150, 60:120]
nz = m[m != 0]
print("mni crop", m.shape, "nonzero", nz.size)
print("mni pct all", repr(np.percentile(m, [5, 95]).tolist()), "nonzero", repr(np.percentile(nz, [5, 95]).tolist()))
z = (m - nz.mean()) / nz.std()
idx = [(0, 0, 0), (32, 40, 30), (10, 70, 50), (63, 79, 59), (5, 5, 5), (50, 20, 10)]
print("mni zscore nonzero sum", float(z.astype(np.float64).sum()), "abs", float(np.abs(z.astype(np.float64)).sum()),
      "probes", [float(z[i]) for i in idx])

# Small arrays: ties, n = 1, NaN (left out, as nanpercentile).
for a in ([3.0], [2.0, 2.0, 2.0, 2.0], [5.0, 1.0, 4.0, 1.0, 3.0, 9.0, 2.0, 6.0], [-0.0, 0.0, -1.5, 1e30, -1e30, 7.25, 7.25],
          [1.0, float("nan"), 3.0, 2.0]):
    arr = np.array(a, dtype=np.float32)
    print("small pct", a, repr(np.nanpercentile(arr, [0, 5, 33.3, 50, 95, 100]).tolist()))

# The samples have no zero voxel: a variant with the dark voxels zeroed tests "nonzero".
x2 = np.where(x < 20, np.float32(0), x)
nz = x2[x2 != 0]
print("zeroed nonzero", nz.size, "pct nonzero", repr(np.percentile(nz, [5, 95]).tolist()), "pct all", repr(np.percentile(x2, [5, 95]).tolist()))
z = (x2 - nz.mean()) / nz.std()
print("zeroed zscore nonzero sum", float(z.astype(np.float64).sum()), "abs", float(np.abs(z.astype(np.float64)).sum()), "probes", probes(z))

# TorchIO's generate_bias_field (current version, coordinates np.arange(-n, n) + 0.5), order 3.
def torchio_bias(shape, order, coefficients):
    half_shape = np.array(shape) / 2
    ranges = [np.arange(-n, n) + 0.5 for n in half_shape]
    bias_field = np.zeros(shape)
    x_mesh, y_mesh, z_mesh = np.asarray(np.meshgrid(*ranges))
    x_mesh /= x_mesh.max(); y_mesh /= y_mesh.max(); z_mesh /= z_mesh.max()
    i = 0
    for xo in range(order + 1):
        for yo in range(order + 1 - xo):
            for zo in range(order + 1 - (xo + yo)):
                bias_field += np.transpose(coefficients[i] * x_mesh**xo * y_mesh**yo * z_mesh**zo, (1, 0, 2))
                i += 1
    return np.exp(bias_field).astype(np.float32)

coefs = [0.05 * ((7 * c) % 11 - 5) for c in range(20)]
f = torchio_bias((6, 5, 4), 3, coefs)
print("bias coefs", coefs)
print("bias field (6,5,4) fortran", repr([round(float(v), 7) for v in f.ravel(order="F")]))
