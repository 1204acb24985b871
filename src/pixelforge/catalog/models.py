"""``Style`` (one catalog entry) and ``Catalog`` (all of them, plus aliases and prices)."""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pixelforge.catalog.errors import UnknownStyle
from pixelforge.catalog.pricing import Pricing, price_micros

Tab = Literal["image", "animation", "advanced-animation", "tileset"]
RequiredInput = Literal["input_image", "extra_prompt", "extra_input_image"]
TABS: tuple[str, ...] = ("image", "animation", "advanced-animation", "tileset")


class Style(BaseModel):
    """One selectable style.

    ``id`` is what a client sends in ``prompt_style`` and what the selector lists. ``target_id`` is
    the style that actually runs: the same id, except for routes (``rd_mini__*``) whose target is
    an RD Plus / RD Fast low-res style. ``model`` is the wire ``model`` of responses (the routed
    model for routes); ``family`` is the selector's ``required_model`` (``rd_mini`` for routes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(_[a-z0-9]+)*__[a-z0-9_]+$")
    target_id: str
    model: str = Field(min_length=1)
    family: str = Field(min_length=1)
    tab: Tab
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    example_prompt: str = Field(min_length=1)
    min_width: int = Field(ge=1)
    max_width: int = Field(ge=1)
    min_height: int = Field(ge=1)
    max_height: int = Field(ge=1)
    square_only: bool = False
    fixed_size: tuple[int, int] | None = None
    max_images: int = Field(ge=1)
    required_inputs: tuple[RequiredInput, ...] = ()
    max_reference_images: int = Field(default=0, ge=0)
    price_class: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Style:
        if self.min_width > self.max_width:
            raise ValueError(f"min_width {self.min_width} > max_width {self.max_width}")
        if self.min_height > self.max_height:
            raise ValueError(f"min_height {self.min_height} > max_height {self.max_height}")
        if self.fixed_size is not None:
            w, h = self.fixed_size
            if (self.min_width, self.max_width, self.min_height, self.max_height) != (w, w, h, h):
                raise ValueError(
                    f"fixed_size {w}x{h} disagrees with the size range "
                    f"{self.min_width}-{self.max_width} x {self.min_height}-{self.max_height}"
                )
        return self

    @property
    def requires_input_image(self) -> bool:
        return "input_image" in self.required_inputs

    @property
    def requires_extra_prompt(self) -> bool:
        return "extra_prompt" in self.required_inputs

    @property
    def supports_reference_images(self) -> bool:
        return self.max_reference_images > 0

    @property
    def is_route(self) -> bool:
        return self.target_id != self.id

    def problems(
        self,
        width: int,
        height: int,
        num_images: int,
        has_input_image: bool = False,
        n_reference_images: int = 0,
        *,
        has_extra_prompt: bool | None = None,
        has_extra_input_image: bool | None = None,
    ) -> list[str]:
        """Every reason this style cannot run the request, each naming the style and the limit.

        An empty list means the request fits. ``has_extra_prompt`` / ``has_extra_input_image`` are
        only checked when given (None = the caller does not check them).
        """
        sid = self.id
        out: list[str] = []
        if self.fixed_size is not None:
            fw, fh = self.fixed_size
            if (width, height) != (fw, fh):
                out.append(f"{sid} only supports {fw}x{fh}; got width={width}, height={height}.")
        else:
            if not self.min_width <= width <= self.max_width:
                out.append(
                    f"{sid}: width {width} is outside this style's range "
                    f"{self.min_width}-{self.max_width} px."
                )
            if not self.min_height <= height <= self.max_height:
                out.append(
                    f"{sid}: height {height} is outside this style's range "
                    f"{self.min_height}-{self.max_height} px."
                )
            if self.square_only and width != height:
                out.append(f"{sid} only supports square sizes (width == height); got {width}x{height}.")
        if num_images < 1:
            out.append(f"{sid}: num_images must be at least 1; got {num_images}.")
        elif num_images > self.max_images:
            out.append(f"{sid}: num_images {num_images} exceeds this style's batch cap of {self.max_images}.")
        if self.requires_input_image and not has_input_image:
            out.append(f"{sid} requires input_image.")
        if has_extra_prompt is not None and self.requires_extra_prompt and not has_extra_prompt:
            out.append(f"{sid} requires extra_prompt.")
        if (
            has_extra_input_image is not None
            and "extra_input_image" in self.required_inputs
            and not has_extra_input_image
        ):
            out.append(f"{sid} requires extra_input_image.")
        if n_reference_images > self.max_reference_images:
            if self.max_reference_images == 0:
                out.append(f"{sid} does not accept reference_images; got {n_reference_images}.")
            else:
                out.append(
                    f"{sid} accepts at most {self.max_reference_images} reference_images; "
                    f"got {n_reference_images}."
                )
        return out

    def selector_item(self) -> dict[str, Any]:
        """This style in the documented ``GET /v1/styles/selector`` item shape."""
        return {
            "prompt_style": self.id,
            "name": self.name,
            "description": self.description,
            "required_model": self.family,
            "required_tab": f"tab:{self.tab}",
            "min_width": self.min_width,
            "max_width": self.max_width,
            "min_height": self.min_height,
            "max_height": self.max_height,
            "max_number_of_images": self.max_images,
            "require_input_image": self.requires_input_image,
            "supports_reference_images": self.supports_reference_images,
            "example_prompt": self.example_prompt,
        }


class Catalog:
    """All styles (in file order), their aliases, and the prices in force."""

    def __init__(self, styles: list[Style], aliases: dict[str, str], pricing: Pricing) -> None:
        self._styles = list(styles)
        self._by_id = {s.id: s for s in self._styles}
        self._aliases = dict(aliases)
        self._lookup = dict(self._by_id)
        for alias, canonical in self._aliases.items():
            self._lookup[alias] = self._by_id[canonical]
        self.pricing = pricing

    def styles(self) -> list[Style]:
        """Every listable style: canonical styles and routes (rd_mini__*), not the alias spellings."""
        return list(self._styles)

    def aliases(self) -> dict[str, str]:
        """Alternative spelling -> canonical style id (``animation__vfx`` -> ``rd_animation__vfx``)."""
        return dict(self._aliases)

    def __contains__(self, style_id: object) -> bool:
        return style_id in self._lookup

    def __len__(self) -> int:
        return len(self._styles)

    def get(self, style_id: str) -> Style | None:
        return self._lookup.get(style_id)

    def resolve(self, style_id: str) -> Style:
        """The style for a ``prompt_style`` value; an alias gives its canonical style.

        Raises ``UnknownStyle`` (with close matches as suggestions) for anything else.
        """
        style = self._lookup.get(style_id)
        if style is None:
            close = difflib.get_close_matches(str(style_id), list(self._by_id), n=2, cutoff=0.75)
            raise UnknownStyle(str(style_id), close)
        return style

    def target(self, style: Style) -> Style:
        """The style that actually runs for ``style`` (itself unless it is a route)."""
        return self._by_id[style.target_id]

    def price_micros(self, style: Style, width: int, height: int, num_images: int) -> int:
        return price_micros(style, width, height, num_images, self.pricing)

    def selector(self, model: str | None = None, tab: str | None = None) -> list[dict[str, Any]]:
        """Items for ``GET /v1/styles/selector``.

        ``model`` filters on ``required_model`` (rd_fast, rd_plus, rd_pro, rd_mini, rd_animation,
        rd_advanced_animation, rd_tile; case-insensitive). ``tab`` accepts ``tab:image`` or ``image``
        (also animation, advanced-animation, tileset). An unknown value matches nothing.
        """
        want_model = model.strip().lower() if model else None
        want_tab = tab.strip().lower().removeprefix("tab:") if tab else None
        return [
            s.selector_item()
            for s in self._styles
            if (want_model is None or s.family == want_model) and (want_tab is None or s.tab == want_tab)
        ]


def selector_items(
    catalog: Catalog, model: str | None = None, tab: str | None = None
) -> list[dict[str, Any]]:
    """Function form of :meth:`Catalog.selector`."""
    return catalog.selector(model=model, tab=tab)
