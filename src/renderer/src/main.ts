import { mount } from 'svelte'
import App from './App.svelte'
import './app.css'
import { applyTheme, rememberedAppearance } from './lib/appearance'
import { getLocale, localeFor, setLocale } from './lib/i18n.svelte'

// Paint in the last known theme and language at once; the settings from main follow.
const remembered = rememberedAppearance()
applyTheme(remembered.theme)
setLocale(localeFor(remembered.language))
// Lets the browser pick the right CJK glyphs and hyphenation for the language shown.
document.documentElement.lang = getLocale()

const target = document.getElementById('app')
if (!target) throw new Error('index.html has no #app element')

export default mount(App, { target, props: { api: window.comfyBalancer } })
