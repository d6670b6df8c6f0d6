import { mount } from 'svelte'
import App from './App.svelte'
import './app.css'
import { getLocale } from './lib/i18n'

// Lets the browser pick the right CJK glyphs and hyphenation for the language shown.
document.documentElement.lang = getLocale()

const target = document.getElementById('app')
if (!target) throw new Error('index.html has no #app element')

export default mount(App, { target, props: { api: window.comfyBalancer } })
