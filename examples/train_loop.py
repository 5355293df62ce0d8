"""A PyTorch training loop fed by a voxflow graph: a fresh augmentation per sample and epoch.

    pip install ./crates/python torch && python examples/train_loop.py
"""
import torch
from torch.utils.data import DataLoader
from voxflow.torch import GraphDataset

cases = [("mni152", {"image": "data/mni152_t1.nii.gz", "label": "data/mni152_tissue_labels.nii.gz"})]
dataset = GraphDataset(cases, "graphs/tutorial.json", outputs_per_epoch=4)
loader = DataLoader(dataset, batch_size=2, num_workers=2, shuffle=True)
model = torch.nn.Conv3d(1, 4, kernel_size=3, padding=1)  # 4 tissue classes (0 = background)
optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(2):
    dataset.set_epoch(epoch)  # new draws each epoch; same draws for the same (case, output)
    for batch in loader:
        image = batch["save_image"].unsqueeze(1)  # [B, 1, x, y, z], float32
        label = batch["save_label"].long()  # [B, x, y, z], the label map's values
        loss = torch.nn.functional.cross_entropy(model(image), label.clamp(max=3))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    print(f"epoch {epoch}: loss {loss.item():.3f}, batch {tuple(image.shape)}, cases {batch['case']}")
