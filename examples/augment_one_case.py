"""Read one case, augment it with the tutorial graph, and preview it: notebook-style, one cell
per block (works as a script too; no torch needed).

    pip install ./crates/python && python examples/augment_one_case.py
"""
# %% Read a case: voxels plus the affine that places them in the world.
import numpy as np
import voxflow

image = voxflow.read("data/mni152_t1.nii.gz")
label = voxflow.read("data/mni152_tissue_labels.nii.gz", kind="label")
print(image, label, sep="\n")
voxflow.preview(image, label, path="case_input.png")

# %% The graph graphrun runs, run here in memory on the volumes just read.
graph = voxflow.Graph("graphs/tutorial.json")
print(graph, "inputs:", graph.inputs, "saves:", graph.saves)
out, draws = graph.run_with_draws({"image": image, "label": label}, case="mni152", output=0)
aug_image, aug_label = out["save_image"], out["save_label"]
print(aug_image, aug_label, sep="\n")
print("draws:", {name: draw for name, draw in draws.items()})

# %% Labels keep their dtype and never gain a value; the affine moved with the grid.
assert aug_label.dtype == label.dtype
assert set(np.unique(aug_label.array)) <= set(np.unique(label.array))
print("spacing before", image.spacing, "after", aug_image.spacing)

# %% Preview the augmented pair (in a notebook: IPython.display.Image(png)).
png = voxflow.preview(aug_image, aug_label, path="case_augmented.png", title="mni152, output 0")
print(f"wrote case_input.png and case_augmented.png ({len(png)} bytes)")

# %% Same (case, output): same draws, same voxels; graphrun writes exactly these for output 0.
again = graph.run({"image": image, "label": label}, case="mni152", output=0)
assert np.array_equal(again["save_image"].array, aug_image.array)
aug_image.save("case_augmented_image.nii.gz")
