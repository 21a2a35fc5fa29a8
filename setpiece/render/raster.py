"""The rasteriser every preview image goes through (shots, boards): moderngl on headless EGL.

All parts live in one vertex buffer in their rest pose; each frame uploads one
rigid transform per part into a float texture that the vertex shader reads,
so a frame costs one upload and two draws (sun shadow map, then camera).
Outputs linear-light beauty plus alpha, depth, normal and part-id passes.
"""

from __future__ import annotations

import numpy as np

from setpiece.artifacts import Passes
from setpiece.camera import Camera
from setpiece.errors import RenderError
from setpiece.geometry import Mesh

TEX_COLS = 256  # parts per texture row (4 texels each)
SHADOW_SIZE = 2048
MAX_SUPERSAMPLED_PIXELS = 1920 * 1080
GROUND_ID = -2

_VERT = """
#version 330
uniform sampler2D xforms;
uniform sampler2D xforms_prev;
uniform mat4 view_proj;
in vec3 in_pos; in vec3 in_normal; in vec3 in_color; in float in_part; in float in_exposure;
out vec3 v_world; out vec3 v_normal; out vec3 v_color; flat out int v_part; out float v_exposure;
out vec4 v_clip; out vec4 v_clip_prev;
mat4 part_matrix(sampler2D tex, int part) {
    if (part < 0) return mat4(1.0);
    int col = (part % %COLS%) * 4, row = part / %COLS%;
    return mat4(texelFetch(tex, ivec2(col, row), 0), texelFetch(tex, ivec2(col + 1, row), 0),
                texelFetch(tex, ivec2(col + 2, row), 0), texelFetch(tex, ivec2(col + 3, row), 0));
}
void main() {
    int part = int(in_part + 0.5) - 3;
    mat4 m = part_matrix(xforms, part);
    vec4 world = m * vec4(in_pos, 1.0);
    v_clip_prev = view_proj * (part_matrix(xforms_prev, part) * vec4(in_pos, 1.0));
    v_world = world.xyz; v_normal = mat3(m) * in_normal; v_color = in_color;
    // fragments that have left their rest place are out in the open air
    v_part = part; v_exposure = mix(in_exposure, 1.0, clamp(length(world.xyz - in_pos) * 0.12, 0.0, 1.0));
    gl_Position = view_proj * world;
    v_clip = gl_Position;
}
"""

_FRAG = """
#version 330
uniform sampler2DShadow shadow_map;
uniform mat4 light_view_proj;
uniform mat4 view;
uniform vec3 sun_dir; uniform vec3 sun_color; uniform vec3 sky_color; uniform vec3 ground_bounce;
uniform vec2 viewport;
in vec3 v_world; in vec3 v_normal; in vec3 v_color; flat in int v_part; in float v_exposure;
in vec4 v_clip; in vec4 v_clip_prev;
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_aux;   // normal.xyz, part id
layout(location = 2) out vec4 out_extra; // motion px (x right, y down), sun visibility, object coverage
layout(location = 3) out float out_depth;
float sun_visibility(vec3 n) {
    vec4 p = light_view_proj * vec4(v_world + n * 0.03, 1.0);
    vec3 s = p.xyz / p.w * 0.5 + 0.5;
    if (any(lessThan(s.xy, vec2(0.0))) || any(greaterThan(s.xy, vec2(1.0)))) return 1.0;
    float texel = 1.0 / %SHADOW%.0, sum = 0.0;
    for (int i = -1; i <= 1; i++) for (int j = -1; j <= 1; j++)
        sum += texture(shadow_map, vec3(s.xy + vec2(i, j) * texel, s.z - 0.0015));
    return sum / 9.0;
}
void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    float ndl = max(dot(n, sun_dir), 0.0);
    float sky = (0.5 + 0.5 * n.z) * v_exposure;
    float bounce = (0.5 - 0.5 * n.z) * v_exposure;
    // radiometry as in the final backend: Lambert 1/pi on sun irradiance, sky radiance as is
    float visible = sun_visibility(n);
    vec3 light = sun_color * ndl * visible / 3.14159265 + sky_color * sky + ground_bounce * bounce;
    out_color = vec4(v_color * light, 1.0);
    out_aux = vec4(n, float(v_part));
    vec2 motion = (v_clip.xy / v_clip.w - v_clip_prev.xy / v_clip_prev.w) * 0.5 * viewport;
    out_extra = vec4(motion.x, -motion.y, visible, v_part >= 0 ? 1.0 : 0.0);
    out_depth = -(view * vec4(v_world, 1.0)).z;
}
"""

_SHADOW_FRAG = "#version 330\nvoid main() {}\n"


class PreviewRenderer:
    """Rasteriser for a fixed set of rigid parts (fragments, props, mannequins)."""

    def __init__(
        self,
        parts: list[Mesh],
        exposure: list[np.ndarray] | None = None,
        ground_color=(0.2, 0.19, 0.18),
        ground_size: float = 400.0,
        supersample: int = 2,
    ):
        try:
            import moderngl

            self.ctx = moderngl.create_standalone_context(backend="egl")
        except Exception as err:  # the driver stack raises many types
            raise RenderError(
                "preview renderer needs headless OpenGL (EGL): install libegl1 libgl1-mesa-dri "
                f"libegl-mesa0 (see README). Driver said: {err}"
            ) from None
        self.ss = supersample
        self.n_parts = len(parts)
        self._mgl = moderngl
        self.prog = self.ctx.program(
            vertex_shader=_VERT.replace("%COLS%", str(TEX_COLS)),
            fragment_shader=_FRAG.replace("%SHADOW%", str(SHADOW_SIZE)),
        )
        self.shadow_prog = self.ctx.program(
            vertex_shader=_VERT.replace("%COLS%", str(TEX_COLS)), fragment_shader=_SHADOW_FRAG
        )
        data = _vertex_data(parts, exposure, ground_color, ground_size)
        self.vbo = self.ctx.buffer(data.tobytes())
        layout = "3f 3f 3f 1f 1f"
        names = ["in_pos", "in_normal", "in_color", "in_part", "in_exposure"]
        self.vao = self.ctx.vertex_array(self.prog, [(self.vbo, layout, *names)])
        self.shadow_vao = self.ctx.vertex_array(self.shadow_prog, [(self.vbo, "3f 12x 12x 1f 4x", "in_pos", "in_part")])
        rows = max(1, -(-self.n_parts // TEX_COLS))
        self.xform_tex = self.ctx.texture((TEX_COLS * 4, rows), 4, dtype="f4")
        self.xform_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.prev_tex = self.ctx.texture((TEX_COLS * 4, rows), 4, dtype="f4")
        self.prev_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.shadow_tex = self.ctx.depth_texture((SHADOW_SIZE, SHADOW_SIZE))
        self.shadow_tex.compare_func = "<="
        self.shadow_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.shadow_fbo = self.ctx.framebuffer(depth_attachment=self.shadow_tex)
        self._fbo_size = None

    def render(
        self,
        camera: Camera,
        transforms: np.ndarray | None,
        sun_dir,
        sun_color,
        sky_color,
        scene_radius: float = 60.0,
        previous: np.ndarray | None = None,
    ) -> Passes:
        """Draw one frame; transforms is (n_parts, 4, 4) world-from-rest, or None for rest pose;
        previous (the last frame's transforms) gives the motion pass."""
        if transforms is None:
            transforms = np.broadcast_to(np.eye(4), (self.n_parts, 4, 4))
        with self.ctx:  # several renderers may be alive: draw in this one's context
            self._upload(self.xform_tex, transforms)
            self._upload(self.prev_tex, transforms if previous is None else previous)
            sun_dir = np.asarray(sun_dir, float) / np.linalg.norm(sun_dir)
            light_vp = _light_matrix(sun_dir, np.asarray(camera.target, float), scene_radius)
            self._shadow_pass(light_vp)
            return self._camera_pass(camera, light_vp, sun_dir, sun_color, sky_color)

    def _upload(self, tex, transforms: np.ndarray) -> None:
        rows = tex.height
        buf = np.zeros((rows * TEX_COLS, 4, 4), np.float32)
        # column-major: each texel is one matrix column
        buf[: self.n_parts] = np.transpose(transforms, (0, 2, 1))
        buf = buf.reshape(rows, TEX_COLS, 4, 4).reshape(rows, TEX_COLS * 4, 4)
        tex.write(np.ascontiguousarray(buf).tobytes())

    def _shadow_pass(self, light_vp: np.ndarray) -> None:
        self.shadow_fbo.use()
        self.shadow_fbo.clear(depth=1.0)
        self.ctx.enable(self._mgl.DEPTH_TEST)
        self.ctx.disable(self._mgl.CULL_FACE)
        self.xform_tex.use(0)
        self.shadow_prog["xforms"] = 0
        self.prev_tex.use(2)
        if "xforms_prev" in self.shadow_prog:
            self.shadow_prog["xforms_prev"] = 2
        self.shadow_prog["view_proj"].write(_gl(light_vp))
        self.shadow_vao.render()

    def _camera_pass(self, cam: Camera, light_vp, sun_dir, sun_color, sky_color) -> Passes:
        # above 1080p the pixels are fine enough; supersampling would need 4x the memory
        ss = self.ss if cam.width * cam.height <= MAX_SUPERSAMPLED_PIXELS else 1
        w, h = cam.width * ss, cam.height * ss
        fbo = self._framebuffer(w, h)
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self.ctx.enable(self._mgl.DEPTH_TEST)
        view = cam.view_matrix()
        prog = self.prog
        self.xform_tex.use(0)
        self.shadow_tex.use(1)
        self.prev_tex.use(2)
        prog["xforms"], prog["shadow_map"], prog["xforms_prev"] = 0, 1, 2
        prog["viewport"].value = (float(cam.width), float(cam.height))
        prog["view_proj"].write(_gl(cam.projection_matrix() @ view))
        prog["view"].write(_gl(view))
        prog["light_view_proj"].write(_gl(light_vp))
        prog["sun_dir"].value = tuple(sun_dir)
        prog["sun_color"].value = tuple(sun_color)
        prog["sky_color"].value = tuple(sky_color)
        prog["ground_bounce"].value = tuple(0.25 * np.asarray(sun_color) * max(sun_dir[2], 0) * 0.3)
        self.vao.render()
        return self._read(w, h, ss)

    def _framebuffer(self, w: int, h: int):
        if self._fbo_size != (w, h):
            self._targets = [self.ctx.texture((w, h), 4, dtype="f4") for _ in range(3)]
            self._targets.append(self.ctx.texture((w, h), 1, dtype="f4"))
            self._fbo = self.ctx.framebuffer(self._targets, self.ctx.depth_renderbuffer((w, h)))
            self._fbo_size = (w, h)
        return self._fbo

    def _read(self, w: int, h: int, s: int) -> Passes:
        color = _read_tex(self._targets[0], 4)
        aux = _read_tex(self._targets[1], 4)
        extra = _read_tex(self._targets[2], 4)
        depth = _read_tex(self._targets[3], 1)[..., 0]
        rgba = _box_down(color, s)
        ground = np.where(aux[..., 3] < -1.5, 1.0, 0.0)
        shadow = 1.0 - _box_down(ground * (1.0 - extra[..., 2]), s)  # ground shadow, 1 elsewhere
        covered = color[::s, ::s, 3] > 0  # AOVs are point-sampled, not averaged
        part = np.where(covered, np.rint(aux[::s, ::s, 3]).astype(np.int32), -1)
        return Passes(
            beauty=rgba[..., :3],
            alpha=rgba[..., 3],
            depth=np.where(covered, depth[::s, ::s], np.inf),
            normal=aux[::s, ::s, :3] * covered[..., None],
            part=part,
            motion=_clean_motion(extra[::s, ::s, :2] / s, w // s),
            shadow=shadow,
            matte=_box_down(extra[..., 3], s),
        )

    def release(self) -> None:
        self.ctx.release()


def _clean_motion(motion: np.ndarray, width: int) -> np.ndarray:
    """Parts that just appeared (or sit behind the camera) have no sensible motion."""
    motion = np.nan_to_num(motion, nan=0.0, posinf=0.0, neginf=0.0)
    limit = 0.25 * width
    motion[np.abs(motion).max(axis=-1) > limit] = 0.0
    return motion


def _box_down(img: np.ndarray, s: int) -> np.ndarray:
    """Average s x s blocks (supersampled image to output size)."""
    h, w = img.shape[0] // s, img.shape[1] // s
    return img.reshape(h, s, w, s, *img.shape[2:]).mean(axis=(1, 3))


def _read_tex(tex, comps: int) -> np.ndarray:
    data = np.frombuffer(tex.read(), np.float32).reshape(tex.height, tex.width, comps)
    return data[::-1]  # GL rows start at the bottom


def _gl(m: np.ndarray) -> bytes:
    return np.asarray(m, np.float32).T.tobytes()


def _light_matrix(sun_dir: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Orthographic sun camera covering a sphere around the shot's centre."""
    eye = centre + sun_dir * radius * 2
    fwd = -sun_dir
    up = np.array([0.0, 0.0, 1.0]) if abs(fwd[2]) < 0.99 else np.array([0.0, 1.0, 0.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    view = np.eye(4)
    view[0, :3], view[1, :3], view[2, :3] = right, up, -fwd
    view[:3, 3] = -view[:3, :3] @ eye
    proj = np.diag([1 / radius, 1 / radius, -1 / (2 * radius), 1.0])
    proj[2, 3] = -1.0  # view z in [0, -4r] maps to depth [-1, 1]
    return proj @ view


def _vertex_data(parts: list[Mesh], exposure, ground_color, ground_size) -> np.ndarray:
    """Flat-shaded, de-indexed triangles: pos, normal, colour, part id + 3, exposure."""
    chunks = [_ground(ground_color, ground_size)]
    for k, mesh in enumerate(parts):
        tri = mesh.vertices[mesh.faces]  # (F, 3, 3)
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        exp = np.ones(len(tri)) if exposure is None else exposure[k]
        chunks.append(_pack(tri, n, mesh.color, k, exp))
    return np.vstack(chunks).astype(np.float32)


def _pack(tri: np.ndarray, normals: np.ndarray, color, part: int, exposure: np.ndarray) -> np.ndarray:
    f = len(tri)
    rows = np.empty((f, 3, 11))
    rows[..., 0:3] = tri
    rows[..., 3:6] = normals[:, None, :]
    rows[..., 6:9] = np.asarray(color, float).reshape(-1, 3)[:, None, :] if np.ndim(color) == 2 else color
    rows[..., 9] = part + 3
    rows[..., 10] = np.asarray(exposure)[:, None]
    return rows.reshape(-1, 11)


def _ground(color, size: float) -> np.ndarray:
    s = size / 2
    quad = np.array([[[-s, -s, 0], [s, -s, 0], [s, s, 0]], [[-s, -s, 0], [s, s, 0], [-s, s, 0]]], float)
    normals = np.array([[0, 0, 1.0], [0, 0, 1.0]])
    return _pack(quad, normals, color, GROUND_ID, np.ones(2))
